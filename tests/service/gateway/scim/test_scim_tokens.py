"""SCIM tokens: issued by an administrator of the account (shown once, kept hashed), listed
without secret, revoked; a supervisor may not; another account's token is 404. And what the
server says of itself (ServiceProviderConfig, ResourceTypes, Schemas)."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from gateway.scim.tokens import scim_tokens
from portico import demo
from tests.service.gateway.scim.conftest import PORTICO, USER, issue_token


def tokens_path(account_id: str) -> str:
    return f"/api/v1/accounts/{account_id}/scim-tokens"


def test_a_token_is_shown_once_and_kept_hashed(portal, scim):
    issued = issue_token(portal, scim.account_id, scim.admin, "Google", send_activation=False)
    assert issued["token"].startswith("scim_") and issued["send_activation"] is False
    listed = portal.client.get(tokens_path(scim.account_id), headers=scim.admin).get_json()
    names = {item["name"]: item for item in listed["items"]}
    assert "Google" in names and "token" not in names["Google"]
    engine = portal.embedded.parts["gateway"].engine
    with engine.connect() as conn:
        rows = conn.execute(sa.select(scim_tokens)).mappings().all()
    stored = " ".join(str(value) for row in rows for value in row.values())
    assert issued["token"] not in stored
    assert hashlib.sha256(issued["token"].encode()).hexdigest() in stored


def test_a_revoked_token_is_refused(portal, scim):
    issued = issue_token(portal, scim.account_id, scim.admin, "Keycloak")
    bearer = {"Authorization": f"Bearer {issued['token']}"}
    assert portal.client.get("/scim/v2/Users", headers=bearer).status_code == 200
    answer = portal.client.delete(
        f"{tokens_path(scim.account_id)}/{issued['id']}", headers=scim.admin
    )
    assert answer.status_code == 204
    assert portal.client.get("/scim/v2/Users", headers=bearer).status_code == 401
    listed = portal.client.get(tokens_path(scim.account_id), headers=scim.admin).get_json()
    assert next(i for i in listed["items"] if i["id"] == issued["id"])["revoked_at"]


def test_a_supervisor_may_not_issue_the_supervised_accounts_tokens(portal, other):
    claire = portal.sign_in(demo.ADMINS[demo.PARENT["number"]]["email"])  # supervises the shop
    answer = portal.client.post(
        tokens_path(other.account_id), json={"name": "Mine"}, headers=claire
    )
    assert answer.status_code == 403
    assert portal.client.get(tokens_path(other.account_id), headers=claire).status_code == 403


def test_another_accounts_token_is_not_found(portal, scim, other):
    theirs = issue_token(portal, other.account_id, other.admin, "Theirs")
    answer = portal.client.delete(
        f"{tokens_path(scim.account_id)}/{theirs['id']}", headers=scim.admin
    )
    assert answer.status_code == 404
    bearer = {"Authorization": f"Bearer {theirs['token']}"}
    assert portal.client.get("/scim/v2/Users", headers=bearer).status_code == 200


def test_a_name_is_required(portal, scim):
    answer = portal.client.post(tokens_path(scim.account_id), json={}, headers=scim.admin)
    assert answer.status_code == 422


def test_the_service_provider_config_tells_the_truth(scim):
    config = scim.get("/ServiceProviderConfig").get_json()
    assert config["patch"] == {"supported": True}
    assert config["bulk"]["supported"] is True and config["bulk"]["maxOperations"] == 1000
    assert config["bulk"]["maxPayloadSize"] > 0
    assert config["filter"]["supported"] is True and config["filter"]["maxResults"] == 1000
    assert config["changePassword"] == {"supported": False}
    assert config["sort"] == {"supported": True} and config["etag"] == {"supported": True}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_types_and_schemas(scim):
    types = {t["id"]: t for t in scim.get("/ResourceTypes").get_json()["Resources"]}
    assert types["User"]["endpoint"] == "/Users" and types["Group"]["endpoint"] == "/Groups"
    # every Portico user has a password level: the extension is on each of them
    assert types["User"]["schemaExtensions"] == [{"schema": PORTICO, "required": True}]
    schemas = {s["id"]: s for s in scim.get("/Schemas").get_json()["Resources"]}
    assert {USER, PORTICO} <= set(schemas)
    user_attributes = {a["name"]: a for a in schemas[USER]["attributes"]}
    assert "userName" in user_attributes and "addresses" not in user_attributes
    # what a Portico user always has is published as required (a PATCH cannot remove it)
    required = {name for name, a in user_attributes.items() if a["required"]}
    assert required == {"userName", "name", "preferredLanguage", "active", "emails"}
    assert not user_attributes["title"]["required"]
    level = schemas[PORTICO]["attributes"][0]
    assert level["name"] == "passwordLevel" and level["required"] is True
    assert level["canonicalValues"] == ["weak", "moderate", "strong"]
    one = scim.get(f"/Schemas/{PORTICO}")
    assert one.status_code == 200 and one.get_json()["id"] == PORTICO
    assert scim.get("/Schemas/urn:nothing").status_code == 404


def test_an_unknown_scim_address_is_a_scim_404_and_a_wrong_method_a_scim_405(scim):
    answer = scim.get("/Nothing")
    assert answer.status_code == 404 and answer.mimetype == "application/scim+json"
    refused = scim.delete("/ServiceProviderConfig")
    assert refused.status_code == 405 and refused.get_json(force=True)["status"] == "405"
    assert refused.headers["Allow"] == "GET"


def test_issuing_and_revoking_a_token_are_in_the_accounts_audit_trail(portal, scim):
    issued = issue_token(portal, scim.account_id, scim.admin, "Okta")
    for _ in range(2):  # revoking twice is harmless, and audited once
        answer = portal.client.delete(
            f"{tokens_path(scim.account_id)}/{issued['id']}", headers=scim.admin
        )
        assert answer.status_code == 204
    entries = [e for e in scim.audit() if e["target"] == "Okta"]
    assert [e["action"] for e in entries] == ["scim_token_revoked", "scim_token_issued"]
    assert all(e["source"] == "admin" and e["actor"] for e in entries), entries


def test_a_token_whose_issue_cannot_be_audited_is_not_issued(portal, scim, monkeypatch):
    from bus.http_client import ServiceUnavailable
    from gateway.scim import token_api

    def identity_down(*args, **kwargs):
        raise ServiceUnavailable("identity", "connection refused")

    monkeypatch.setattr(token_api, "audit", identity_down)
    answer = portal.client.post(
        tokens_path(scim.account_id), json={"name": "Unaudited"}, headers=scim.admin
    )
    assert answer.status_code == 503, answer.get_json()
    listed = portal.client.get(tokens_path(scim.account_id), headers=scim.admin).get_json()
    assert "Unaudited" not in {item["name"] for item in listed["items"]}


def test_a_revocation_holds_even_when_identity_cannot_audit_it(portal, scim, monkeypatch):
    from bus.http_client import ServiceUnavailable
    from gateway.scim import token_api

    issued = issue_token(portal, scim.account_id, scim.admin, "Google")

    def identity_down(*args, **kwargs):
        raise ServiceUnavailable("identity", "connection refused")

    monkeypatch.setattr(token_api, "audit", identity_down)
    answer = portal.client.delete(
        f"{tokens_path(scim.account_id)}/{issued['id']}", headers=scim.admin
    )
    assert answer.status_code == 204
    bearer = {"Authorization": f"Bearer {issued['token']}"}
    assert portal.client.get("/scim/v2/Users", headers=bearer).status_code == 401

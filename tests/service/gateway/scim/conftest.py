"""The SCIM server in the real portal (embedded mode: every part in-process, SQLite, memory bus,
demo data), one portal per test module. `Scim` is a directory holding a token of one account:
the demo's parent account (A) and its shop (B) each get one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from portico import demo
from tests.security.real_portal import Portal, start_portal

SCIM_JSON = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PORTICO = "urn:portico:params:scim:schemas:extension:portico:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class Scim:
    """A directory's client of /scim/v2 with one account's token."""

    portal: Portal
    token: str
    account_id: str
    admin: dict[str, str]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        return self.portal.client.open(
            f"/scim/v2{path}",
            method=method,
            data=data,
            headers={**self.headers, **headers},
            content_type=SCIM_JSON if data is not None else None,
        )

    def get(self, path: str, **headers: str) -> Any:
        return self.call("GET", path, **headers)

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.call("POST", path, body, **headers)

    def put(self, path: str, body: Any, **headers: str) -> Any:
        return self.call("PUT", path, body, **headers)

    def patch(self, path: str, body: Any, **headers: str) -> Any:
        return self.call("PATCH", path, body, **headers)

    def delete(self, path: str, **headers: str) -> Any:
        return self.call("DELETE", path, **headers)

    def create_user(self, **fields: Any) -> dict[str, Any]:
        answer = self.post("/Users", user_body(**fields))
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()

    def portal_users(self, **params: Any) -> list[dict[str, Any]]:
        """The account's user list as the portal's administrators read it (GET /api/v1)."""
        query = "&".join(f"{key}={value}" for key, value in {"per_page": 200, **params}.items())
        answer = self.portal.client.get(
            f"/api/v1/accounts/{self.account_id}/users?{query}", headers=self.admin
        )
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()["items"]

    def audit(self) -> list[dict[str, Any]]:
        answer = self.portal.client.get(
            f"/api/v1/accounts/{self.account_id}/audit?per_page=200", headers=self.admin
        )
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()["items"]


def address(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@directory.example"


def user_body(**fields: Any) -> dict[str, Any]:
    email = fields.pop("email", None) or address()
    body: dict[str, Any] = {
        "schemas": [USER, PORTICO],
        "userName": email,
        "name": {"familyName": "Martin", "givenName": "Paul", "honorificPrefix": "M"},
        "preferredLanguage": "fr-FR",
        "title": "Buyer",
        "emails": [{"value": email, "type": "work", "primary": True}],
        "phoneNumbers": [{"value": "+33 1 23 45 67 89", "type": "work"}],
        PORTICO: {"passwordLevel": "moderate"},
    }
    body.update(fields)
    return body


def issue_token(
    portal: Portal, account_id: str, admin: dict[str, str], name: str, **extra: Any
) -> dict[str, Any]:
    answer = portal.client.post(
        f"/api/v1/accounts/{account_id}/scim-tokens", json={"name": name, **extra}, headers=admin
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


@pytest.fixture(scope="module")
def portal(tmp_path_factory) -> Iterator[Portal]:
    started = start_portal(tmp_path_factory.mktemp("scim"), f"t{uuid.uuid4().hex[:10]}")
    yield started
    started.stop()


def _directory(portal: Portal, number: str, name: str) -> Scim:
    admin = portal.sign_in(demo.ADMINS[number]["email"])
    account_id = portal.accounts(admin)[number]
    token = issue_token(portal, account_id, admin, name)
    return Scim(portal, token["token"], account_id, admin)


@pytest.fixture(scope="module")
def scim(portal) -> Scim:
    """Account A (the demo's parent account), through a token named "Entra ID"."""
    return _directory(portal, demo.PARENT["number"], "Entra ID")


@pytest.fixture(scope="module")
def other(portal) -> Scim:
    """Account B (the demo's shop), through its own token named "Okta"."""
    return _directory(portal, demo.SHOP["number"], "Okta")

"""Single sign-on end to end: an application built on authlib's client (no Portico code) signs a
user of the cluster in (every part its own process, PostgreSQL, RabbitMQ), verifies the ID token
from JWKS with joserfc, reads userinfo, refreshes and logs out; a client tied to a service the
user does not hold turns them away on a portal page."""

from __future__ import annotations

import pytest
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.e2e.test_identity_journey import (
    Portal,
    administered_account,
    create_active_user,
    unique_email,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("tests.e2e.conftest_propagation",)

CALLBACK = "http://127.0.0.1:9/callback"  # never called: the browser stops at the redirect
BYE = "http://127.0.0.1:9/signed-out"


@pytest.fixture
def portal(cluster):
    opened = Portal(cluster)
    yield opened
    opened.close()


def register(portal: Portal, **body) -> dict:
    answer = portal.http.post(
        "/api/v1/operator/oidc-clients",
        headers=portal.cluster.operator_headers,
        json={
            "name": "Invoice viewer",
            "redirect_uris": [CALLBACK],
            "post_logout_redirect_uris": [BYE],
            **body,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_an_application_signs_a_cluster_user_in_with_the_code_flow_and_pkce(portal):
    account, admin = administered_account(portal, "Single Sign-On Ltd")
    email = unique_email("sso")
    user = create_active_user(portal, account["id"], admin, email)
    browser = Portal(portal.cluster)  # the user's own browser: the portal's session cookie
    try:
        browser.sign_in(email, "Quartz!Meadow7River")
        base = portal.cluster.gateway_url
        metadata = portal.http.get("/.well-known/openid-configuration").json()
        assert metadata["issuer"] == base
        client = register(portal)
        app = OAuth2Session(
            client["client_id"],
            client["client_secret"],
            scope="openid profile email",
            redirect_uri=CALLBACK,
            code_challenge_method="S256",
        )
        verifier = "e2e-verifier-of-the-relying-party-0123456789abcdef"
        url, _ = app.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce="n-e2e"
        )
        answer = browser.http.get(url, follow_redirects=False)
        assert answer.status_code in (302, 303) and answer.headers["Location"].startswith(
            CALLBACK
        ), answer.text
        token = app.fetch_token(
            metadata["token_endpoint"],
            authorization_response=answer.headers["Location"],
            code_verifier=verifier,
        )
        keys = KeySet.import_key_set(portal.http.get("/oauth2/jwks").json())
        claims = jwt.decode(token["id_token"], keys, algorithms=["ES256"]).claims
        assert (
            claims["sub"] == user["id"] and claims["email"] == email and claims["nonce"] == "n-e2e"
        )
        assert claims["portico_account"]["id"] == account["id"]
        assert app.get(metadata["userinfo_endpoint"], timeout=30).json()["sub"] == user["id"]
        assert (
            app.refresh_token(metadata["token_endpoint"])["refresh_token"] != token["refresh_token"]
        )
        logout = browser.http.get(
            "/oauth2/logout",
            follow_redirects=False,
            params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": BYE},
        )
        assert logout.status_code == 303 and logout.headers["Location"] == BYE
        assert browser.http.get("/api/v1/me").status_code == 401
        assert app.get(metadata["userinfo_endpoint"], timeout=30).status_code == 401

        gated = register(portal, name="Planning", service_code="planning_of_services")
        browser.sign_in(email, "Quartz!Meadow7River")
        gated_app = OAuth2Session(
            gated["client_id"],
            gated["client_secret"],
            scope="openid",
            redirect_uri=CALLBACK,
            code_challenge_method="S256",
        )
        url, _ = gated_app.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier
        )
        refused = browser.http.get(url, follow_redirects=False)
        assert refused.status_code == 403 and "needs a service you do not hold" in refused.text
    finally:
        browser.close()

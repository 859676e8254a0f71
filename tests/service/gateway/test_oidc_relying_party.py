"""A real relying party against the running embedded portal: an application built on authlib's
own client (no Portico code) runs the code flow with PKCE over HTTP on 127.0.0.1, verifies the
ID token from JWKS with joserfc, reads userinfo, refreshes and logs out; a user without the
client's service is turned away and asks for it in one click."""

from __future__ import annotations

import html
import io
import re
import socket
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet

from portico import demo
from portico.runtime import Embedded

CALLBACK = "http://127.0.0.1:9/callback"  # never called: the browser stops at the redirect
BYE = "http://127.0.0.1:9/signed-out"
OPERATOR_TOKEN = "rp-test-operator-token-0123456789abcdef"
CLAIRE, SOPHIE = "claire.dubois@retail-it.example", "sophie.bernard@retail-it.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """The embedded portal with its demo, served by werkzeug on a real port."""
    from werkzeug.serving import make_server

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "PORTICO_BUS_PREFIX": f"rp{port}",
        "PORTICO_PUBLIC_URL": base,
        "PORTICO_OPERATOR_TOKEN": OPERATOR_TOKEN,
    }
    embedded = Embedded(tmp_path_factory.mktemp("oidc-rp"), env).build().start()
    out = io.StringIO()
    assert demo.load_once(embedded, out), out.getvalue()
    server = make_server("127.0.0.1", port, embedded.gateway, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    embedded.stop.set()


def register(base: str, **body) -> dict:
    answer = requests.post(
        f"{base}/api/v1/operator/oidc-clients",
        timeout=30,
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        json={
            "name": "Invoice viewer",
            "redirect_uris": [CALLBACK],
            "post_logout_redirect_uris": [BYE],
            **body,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def browser_signed_in(base: str, email: str) -> requests.Session:
    """A browser that signed in on the portal's own sign-in page."""
    browser = requests.Session()
    page = browser.get(f"{base}/sign-in", timeout=30).text
    token = re.search(r'name="form_token" value="([^"]+)"', page)
    fields = {
        "email": email,
        "password": demo.PASSWORD,
        **({"form_token": token.group(1)} if token else {}),
    }
    answer = browser.post(
        f"{base}/sign-in", data=fields, headers={"Origin": base}, allow_redirects=False, timeout=30
    )
    assert answer.status_code == 303, answer.text[:500]
    return browser


def follow_to_callback(browser: requests.Session, url: str) -> requests.Response:
    """Follow the portal's redirects until it sends the browser to the application (or answers)."""
    for _ in range(5):
        answer = browser.get(url, allow_redirects=False, timeout=30)
        location = answer.headers.get("Location", "")
        if answer.status_code not in (302, 303) or location.startswith(CALLBACK):
            return answer
        url = (
            location
            if location.startswith("http")
            else urlsplit(url)
            ._replace(path=urlsplit(location).path, query=urlsplit(location).query)
            .geturl()
        )
    raise AssertionError("too many redirects")


def application(base: str, client: dict) -> OAuth2Session:
    return OAuth2Session(
        client["client_id"],
        client["client_secret"],
        scope="openid profile email",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
    )


def test_an_authlib_application_signs_a_user_in_verifies_reads_refreshes_and_logs_out(portal):
    metadata = requests.get(f"{portal}/.well-known/openid-configuration", timeout=30).json()
    client = register(portal)
    app = application(portal, client)
    verifier = "v" * 20 + "-verifier-of-the-relying-party-0123456789"
    url, state = app.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce="nonce-123"
    )
    browser = browser_signed_in(portal, CLAIRE)
    answer = follow_to_callback(browser, url)
    assert answer.headers["Location"].startswith(CALLBACK), answer.text[:500]
    token = app.fetch_token(
        metadata["token_endpoint"],
        authorization_response=answer.headers["Location"],
        code_verifier=verifier,
    )
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["state"] == [state]

    keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=30).json())
    claims = jwt.decode(token["id_token"], keys, algorithms=["ES256"]).claims
    assert claims["iss"] == portal and claims["nonce"] == "nonce-123"
    assert claims["email"] == CLAIRE and claims["given_name"] == "Claire"
    assert claims["portico_account"]["number"] == "90293531"
    assert "invoice_viewing" in claims["portico_services"]
    assert claims["portico_account"]["id"] in claims["portico_administers"]

    info = app.get(metadata["userinfo_endpoint"], timeout=30).json()
    assert info["sub"] == claims["sub"] and info["email"] == CLAIRE

    first_refresh = token["refresh_token"]
    refreshed = app.refresh_token(metadata["token_endpoint"])
    assert refreshed["refresh_token"] != first_refresh
    assert app.get(metadata["userinfo_endpoint"], timeout=30).status_code == 200

    logout = browser.get(
        metadata["end_session_endpoint"],
        allow_redirects=False,
        timeout=30,
        params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": BYE, "state": "z"},
    )
    assert logout.status_code == 303 and logout.headers["Location"] == BYE + "?state=z"
    assert browser.get(f"{portal}/api/v1/me", timeout=30).status_code == 401
    assert app.get(metadata["userinfo_endpoint"], timeout=30).status_code == 401


def test_a_user_without_the_clients_service_is_turned_away_and_asks_for_it_in_one_click(portal):
    client = register(portal, name="Planning", service_code="planning_of_services")
    app = application(portal, client)
    verifier = "w" * 20 + "-verifier-of-the-relying-party-0123456789"
    url, _ = app.create_authorization_url(f"{portal}/oauth2/authorize", code_verifier=verifier)
    assert create_s256_code_challenge(verifier) in url
    browser = browser_signed_in(portal, SOPHIE)
    refused = follow_to_callback(browser, url)
    assert refused.status_code == 403, refused.text[:500]
    assert "needs a service you do not hold" in refused.text
    form = re.search(r'<form method="post" action="/oauth2/ask".*?</form>', refused.text, re.S)
    assert form, refused.text
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'name="([a-z_]+)" value="([^"]*)"', form.group(0))
    }
    asked = browser.post(
        f"{portal}/oauth2/ask",
        data=fields,
        headers={"Origin": portal},
        allow_redirects=False,
        timeout=30,
    )
    assert asked.status_code in (202, 303), asked.text[:500]
    if asked.status_code == 303:  # granted at once: back to the application, now admitted
        answer = follow_to_callback(
            browser,
            asked.headers["Location"]
            if asked.headers["Location"].startswith("http")
            else portal + asked.headers["Location"],
        )
        assert answer.headers["Location"].startswith(CALLBACK)
    else:  # subject to validation: the page says the request waits for an administrator
        assert "administrator" in asked.text

"""OWASP ASVS 4.0.3 chapter V4 (access control): the rows of docs/security.md that no other test showed.

The gateway in-process in front of fake services, as tests/service/gateway builds it: what decides
access (account, status, administration, level) cannot be written by the person it protects, a
failure while deciding denies, and no file of the installation is served or listed.
"""

from __future__ import annotations

import pytest

from gateway.entrypoints import guards
from tests.service.gateway import conftest as gateway_kit
from tests.service.gateway.conftest import bearer

make_gateway, gw = gateway_kit.make_gateway, gateway_kit.gw  # the gateway tests' fixtures

PRIVILEGED = {
    "account_id": "another",
    "is_administrator": True,
    "status": "active",
    "administers": ["x"],
    "id": "someone-else",
    "activated_at": "2020-01-01T00:00:00Z",
}


@pytest.mark.parametrize("name", sorted(PRIVILEGED))
def test_v4_1_2_a_user_cannot_write_what_access_is_decided_on(gw, name):
    me = bearer(gw.sign_in(gw.user(gw.account())))

    for field in (name, "password_level", "email"):
        answer = gw.client.patch(
            "/api/v1/me", json={"function": "Buyer", field: PRIVILEGED.get(field, 1)}, headers=me
        )
        assert answer.status_code == 422, (field, answer.get_json())
        assert list(answer.get_json()["errors"]) == [field]
    assert not [
        call for call in gw.identity.calls if call.method == "PATCH"
    ]  # nothing reached identity


@pytest.mark.parametrize("name", ["account_id", "is_administrator", "status", "id"])
def test_v4_1_2_an_administrator_cannot_move_a_user_or_make_an_administrator_by_a_field(gw, name):
    account = gw.account()
    admin = bearer(gw.sign_in(gw.user(account, admin=True)))
    user = gw.user(account)

    answer = gw.client.patch(
        f"/api/v1/accounts/{account}/users/{user['id']}",
        headers=admin,
        json={"function": "Buyer", name: PRIVILEGED[name]},
    )

    assert answer.status_code == 422 and list(answer.get_json()["errors"]) == [name]
    assert not [call for call in gw.identity.calls if call.method == "PATCH"]


def test_v4_1_5_a_failure_while_reading_the_session_denies(gw, monkeypatch):
    me = bearer(gw.sign_in(gw.user(gw.account())))
    calls_before = len(gw.identity.calls)

    def broken(*_args, **_kwargs):
        raise RuntimeError("the sessions table is unreadable")

    monkeypatch.setattr(guards, "find_caller", broken)
    answer = gw.client.get("/api/v1/me", headers=me)

    assert answer.status_code == 500 and answer.mimetype == "application/problem+json"
    assert "unreadable" not in answer.get_data(as_text=True)
    assert len(gw.identity.calls) == calls_before  # the request went no further


@pytest.mark.parametrize(
    "path",
    [
        "/.git/config",
        "/.git/HEAD",
        "/.env",
        "/.DS_Store",
        "/Thumbs.db",
        "/assets/",
        "/assets/.DS_Store",
        "/assets/../pyproject.toml",
        "/assets/%2e%2e/pyproject.toml",
        "/assets/..%2f..%2fpyproject.toml",
        "/assets/..%2fentrypoints/api.py",
        "/templates/web/base.html",
        "/api/v1/docs/assets/",
        "/api/v1/docs/assets/..%2f..%2fpyproject.toml",
        "/api/v1/docs/assets/index.html",
        "/gateway/",
        "/pyproject.toml",
        "/api/",
    ],
)
def test_v4_3_2_no_file_or_folder_of_the_installation_is_served_or_listed(gw, path):
    answer = gw.client.get(path)

    assert answer.status_code in (401, 404), (
        path
    )  # 401: under /api/v1, nothing is answered unsigned
    body = answer.get_data(as_text=True)
    assert "[project]" not in body and "[core]" not in body and "Index of" not in body
    assert "def create_app" not in body and "{%" not in body

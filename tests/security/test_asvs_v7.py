"""OWASP ASVS 4.0.3 chapter V7 (errors and logging): rows of docs/security.md that no other test showed.

Through the real portal in one process: no password and no session token in any log record, even at
DEBUG, and every sign-in attempt is in the user's audit trail with when (UTC), from where and its
outcome. Through the gateway in front of fake services: an unexpected error is a generic problem with
the request's id, logged with its cause; a request id that could forge a log line is replaced.
"""

from __future__ import annotations

import json
import logging
import re
import time

import pytest

from gateway.entrypoints import me as me_endpoints
from tests.security.asvs_kit import active_user, link_token, sign_in
from tests.security.real_portal import start_portal
from tests.service.gateway import conftest as gateway_kit
from tests.service.gateway.conftest import bearer

make_gateway, gw = gateway_kit.make_gateway, gateway_kit.gw  # the gateway tests' fixtures

PASSWORD = "Lantern-Quay-4815 ünï"
NEW_PASSWORD = "Orchard-Gale-1623 ßø"


@pytest.fixture
def portal(tmp_path):
    instance = start_portal(tmp_path, f"asvs-v7-{time.monotonic_ns()}")
    yield instance
    instance.stop()


def everything_logged(caplog) -> str:
    lines = []
    for record in caplog.records:
        lines.append(record.getMessage())
        lines.append(repr(record.args))
        lines.append(record.exc_text or "")
        lines.append(
            repr({k: v for k, v in vars(record).items() if k not in ("msg", "args", "exc_info")})
        )
    return "\n".join(lines)


def test_v7_1_1_no_password_or_session_token_is_logged_even_at_debug(portal, caplog):
    caplog.set_level(logging.DEBUG)
    user = active_user(portal, PASSWORD)
    wrong = sign_in(portal, user["email"], PASSWORD + "x")
    assert wrong.status_code == 401
    signed = sign_in(portal, user["email"], PASSWORD)
    token = signed.get_json()["token"]
    me = {"Authorization": f"Bearer {token}"}
    assert portal.client.get("/api/v1/me", headers=me).status_code == 200
    changed = portal.client.post(
        "/api/v1/me/password",
        headers=me,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204
    assert (
        portal.client.post("/api/v1/password-resets", json={"email": user["email"]}).status_code
        == 202
    )
    reset = link_token(portal, user["email"], "reset-password")
    assert (
        portal.client.post(
            f"/api/v1/password-resets/{reset}", json={"password": PASSWORD + "!"}
        ).status_code
        == 204
    )
    assert portal.client.delete("/api/v1/session", headers=me).status_code == 204

    logged = everything_logged(caplog)
    assert len(caplog.records) > 0
    for secret in (
        PASSWORD,
        PASSWORD + "x",
        NEW_PASSWORD,
        PASSWORD + "!",
        token,
        signed.get_json()["csrf_token"],
    ):
        assert secret not in logged
        assert json.dumps(secret)[1:-1] not in logged  # nor JSON-escaped


def test_v7_1_3_and_v7_2_1_every_sign_in_attempt_is_audited_with_when_where_and_outcome(portal):
    user = active_user(portal, PASSWORD)
    agent = {"User-Agent": "asvs-audit-probe/1.0"}
    assert (
        portal.client.post(
            "/api/v1/session",
            headers=agent,
            json={"email": user["email"], "password": "Not-the-password-1"},
        ).status_code
        == 401
    )
    signed = portal.client.post(
        "/api/v1/session", headers=agent, json={"email": user["email"], "password": PASSWORD}
    )
    me = bearer(signed.get_json())

    audits = portal.client.get("/api/v1/me/audits?per_page=50", headers=me).get_json()["items"]
    attempts = [a for a in audits if "sign_in" in a["action"]]
    assert len(attempts) >= 2, audits
    text = json.dumps(attempts)
    assert (
        "Not-the-password-1" not in text
        and PASSWORD not in text
        and signed.get_json()["token"] not in text
    )
    failed = [a for a in attempts if a != attempts[0]]
    assert any("fail" in json.dumps(a) or "wrong" in json.dumps(a) for a in failed), attempts
    for attempt in attempts[:2]:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", attempt["at"]), (
            attempt
        )
        assert attempt["ip"] and attempt["user_agent"] == "asvs-audit-probe/1.0", attempt


def test_v7_4_1_to_3_an_unexpected_error_is_a_generic_problem_with_the_request_id_and_is_logged(
    gw, monkeypatch, caplog
):
    me = bearer(gw.sign_in(gw.user(gw.account())))

    def broken(*_args, **_kwargs):
        raise RuntimeError("connection to postgresql://portico:hunter2@db/x failed")

    monkeypatch.setattr(me_endpoints, "compose_dashboard", broken)
    answer = gw.client.get(
        "/api/v1/me/dashboard", headers={**me, "X-Request-Id": "support-ticket-42"}
    )

    assert answer.status_code == 500 and answer.mimetype == "application/problem+json"
    body = answer.get_data(as_text=True)
    assert "hunter2" not in body and "Traceback" not in body and "RuntimeError" not in body
    # the problem's members and its stable code (every problem has one: the status's for a 500)
    assert set(answer.get_json()) == {"type", "title", "status", "detail", "code"}
    assert answer.get_json()["code"] == "server.error"
    assert answer.headers["X-Portico-Request-Id"] == "support-ticket-42"
    assert [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.exc_text and "hunter2" in r.exc_text
    ]


@pytest.mark.parametrize(
    "given",
    ["abc def", "x%0d%0aFAKE 2026-01-01 INFO admin signed in", "a" * 65, "<script>", "id\tnext"],
)
def test_v7_3_1_a_request_id_that_could_forge_a_log_line_is_replaced(gw, given):
    answer = gw.client.get("/api/v1/openapi.json", headers={"X-Request-Id": given})

    echoed = answer.headers["X-Portico-Request-Id"]
    assert echoed != given and re.fullmatch(r"[0-9a-f-]{36}", echoed)

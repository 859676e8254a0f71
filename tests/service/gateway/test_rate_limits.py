"""Rate limits on sign-in and password reset, per IP and per e-mail, counted in the gateway's database."""

from __future__ import annotations

from datetime import timedelta


def sign_in(gw, email, ip="10.0.0.1"):
    return gw.client.post(
        "/api/v1/session",
        json={"email": email, "password": "wrong"},
        environ_base={"REMOTE_ADDR": ip},
    )


def test_sign_in_per_email_limit_answers_429_with_retry_after(gw):
    for _ in range(10):
        assert sign_in(gw, "target@example.com").status_code == 401
    limited = sign_in(gw, "Target@Example.com ", ip="10.0.0.2")  # another IP, same address
    assert limited.status_code == 429 and limited.mimetype == "application/problem+json"
    wait = int(limited.headers["Retry-After"])
    assert 1 <= wait <= 60 and limited.get_json()["retry_after"] == wait
    assert "try again in" in limited.get_json()["detail"]
    assert sign_in(gw, "someone-else@example.com", ip="10.0.0.2").status_code == 401


def test_sign_in_per_ip_limit(gw):
    for i in range(20):
        assert sign_in(gw, f"user{i}@example.com").status_code == 401
    assert sign_in(gw, "fresh@example.com").status_code == 429
    assert sign_in(gw, "fresh@example.com", ip="10.9.9.9").status_code == 401


def test_the_window_passes(gw):
    for _ in range(11):
        sign_in(gw, "target@example.com")
    assert sign_in(gw, "target@example.com").status_code == 429
    gw.clock.advance(timedelta(seconds=61))
    assert sign_in(gw, "target@example.com").status_code == 401


def test_limited_attempts_never_reach_identity(gw):
    for _ in range(10):
        sign_in(gw, "target@example.com")
    calls = len(gw.identity.calls)
    sign_in(gw, "target@example.com")
    assert len(gw.identity.calls) == calls


def test_password_resets_are_limited_per_email(gw):
    def reset(email):
        return gw.client.post("/api/v1/password-resets", json={"email": email})

    answers = [reset("forgot@example.com") for _ in range(5)]
    assert {a.status_code for a in answers} == {202}
    assert len({a.get_data() for a in answers}) == 1
    limited = reset("forgot@example.com")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) <= 900


def test_limits_are_configurable_and_shared_by_every_app_on_the_database(make_gateway):
    gw = make_gateway(PORTICO_RATE_SIGN_IN_PER_EMAIL="2/60")
    from gateway.entrypoints.api import create_app

    second_worker = create_app(gw.part).test_client()
    assert sign_in(gw, "a@example.com").status_code == 401
    assert (
        second_worker.post(
            "/api/v1/session", json={"email": "a@example.com", "password": "x"}
        ).status_code
        == 401
    )
    assert sign_in(gw, "a@example.com").status_code == 429

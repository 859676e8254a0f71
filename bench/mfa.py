"""A sign-in with a second factor beside a password-only sign-in, through the gateway, distributed
mode (the cluster of tests/e2e/harness.py, as bench/signin.py starts it: gunicorn per part,
RabbitMQ, PostgreSQL).

One client at a time, alternated: a password-only user signs in (POST /api/v1/session, 201),
then a user with an authenticator application signs in with the password and the code of now in
one request (POST /api/v1/session {email, password, code}, 201), then another such user in the
two steps (POST /api/v1/session, 202; POST /api/v1/session/mfa, 201). Target: the TOTP sign-in's
p50 within 10% of the password-only one. The two-step sign-in's p50, and that of each of its
steps, are printed beside it: the second step is a whole request more (client, gateway,
identity and back, a rate-limit write, a transaction of its own), which no tuning of that step
brings under 10% of an Argon2 verification. A TOTP code is accepted once per user and 30-second
step, so each TOTP sign-in is a user of its own (2 x PAIRS of them, enrolled first).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import Result, median
from bench.signin import LIMITS, PASSWORD, Bench, active_users, expect, start_cluster

PAIRS = int(os.environ.get("BENCH_MFA_PAIRS", "40"))
WARM_UP = 5


def run() -> list[Result]:
    bench = start_cluster(env=LIMITS)
    try:
        return measure(bench)
    finally:
        bench.stop()


def enrol_totp(bench: Bench, email: str) -> str:
    """Sign in, set up an authenticator application; answers its secret."""
    from services.identity.domain.mfa import totp_code, totp_step

    http = bench.cluster.http
    session = expect(
        http.post("/api/v1/session", json={"email": email, "password": PASSWORD}), 201, email
    )
    headers = {"Authorization": f"Bearer {session['token']}"}
    secret = expect(http.post("/api/v1/me/mfa/totp", headers=headers), 201, "totp")["secret"]
    code = totp_code(secret, totp_step(datetime.now(UTC)) - 1)  # the step of now stays free
    expect(
        http.post("/api/v1/me/mfa/totp/confirm", headers=headers, json={"code": code}),
        200,
        "totp confirmation",
    )
    expect(http.delete("/api/v1/session", headers=headers), 204, "sign-out")
    return secret


def measure(bench: Bench) -> list[Result]:
    from services.identity.domain.mfa import totp_code, totp_step

    http = bench.cluster.http
    password_users = active_users(bench, 2)
    one_request_users = active_users(bench, PAIRS + WARM_UP)
    two_step_users = active_users(bench, PAIRS + WARM_UP)
    secrets_of = {
        email: enrol_totp(bench, email) for email in [*one_request_users, *two_step_users]
    }

    def code_of(email: str) -> str:
        return totp_code(secrets_of[email], totp_step(datetime.now(UTC)))

    def password_only(email: str) -> float:
        began = time.perf_counter()
        answer = http.post("/api/v1/session", json={"email": email, "password": PASSWORD})
        took = time.perf_counter() - began
        expect(answer, 201, "password-only sign-in")
        return took * 1000

    def one_request(email: str) -> float:
        body = {"email": email, "password": PASSWORD, "code": code_of(email)}
        began = time.perf_counter()
        answer = http.post("/api/v1/session", json=body)
        took = time.perf_counter() - began
        expect(answer, 201, "sign-in with the password and the code")
        return took * 1000

    def two_steps(email: str) -> tuple[float, float]:
        began = time.perf_counter()
        first = http.post("/api/v1/session", json={"email": email, "password": PASSWORD})
        middle = time.perf_counter()
        token = expect(first, 202, "password step")["mfa_token"]
        code = code_of(email)
        step_began = time.perf_counter()
        second = http.post("/api/v1/session/mfa", json={"mfa_token": token, "code": code})
        ended = time.perf_counter()
        expect(second, 201, "second step")
        return (middle - began) * 1000, (ended - step_began) * 1000

    passwords: list[float] = []
    totps: list[float] = []
    steps: list[tuple[float, float]] = []
    for index in range(PAIRS + WARM_UP):
        took_password = password_only(password_users[index % len(password_users)])
        took_totp = one_request(one_request_users[index])
        took_steps = two_steps(two_step_users[index])
        if index >= WARM_UP:
            passwords.append(took_password)
            totps.append(took_totp)
            steps.append(took_steps)
    password_p50, totp_p50 = median(passwords), median(totps)
    detail: dict[str, Any] = {
        "pairs": len(totps),
        "two_step_p50_ms": round(median([a + b for a, b in steps]), 2),
        "two_step_ratio": round(median([a + b for a, b in steps]) / password_p50, 3),
        "password_step_p50_ms": round(median([a for a, _ in steps]), 2),
        "second_step_p50_ms": round(median([b for _, b in steps]), 2),
        "mode": "distributed: gunicorn per part, RabbitMQ, PostgreSQL; one client, alternated",
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    return [
        Result(
            "mfa_totp_sign_in_p50",
            "ms",
            round(totp_p50, 2),
            "password-only sign-in p50, same run",
            round(password_p50, 2),
            "<= 1.1x password-only",
            totp_p50 <= 1.1 * password_p50,
            detail,
        )
    ]


if __name__ == "__main__":
    from bench.common import save, table

    produced = run()
    save(produced)
    print(table(produced))

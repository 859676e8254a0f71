"""Second factors through the gateway in the embedded mode (every part in one process, SQLite,
memory://): a sign-in with TOTP, with a recovery code, with a passkey as second factor and with a
passkey alone (a software authenticator); the account's policy holding a session to enrolment;
an administrator's reset; e-mails of every change; and the refusals (replayed code, used
mfa_token, malformed passkey)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.mfa_kit import SoftAuthenticator, code_at
from tests.security.asvs_kit import active_user, mails_to, wait_for
from tests.security.real_portal import Portal, start_portal

PASSWORD = "Quiet-Lantern-Rises-58"
ORIGIN = "https://portal.example"


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    started = start_portal(
        tmp_path_factory.mktemp("mfa"),
        f"mfa{datetime.now(UTC):%H%M%S%f}",
        env={
            "PORTICO_PUBLIC_URL": ORIGIN,
            "PORTICO_RATE_SIGN_IN_PER_IP": "1000/60",
            "PORTICO_RATE_SIGN_IN_PER_EMAIL": "1000/60",
        },
    )
    yield started
    started.stop()


def bearer(answer: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {answer.get_json()['token']}"}


def sign_in(portal: Portal, email: str) -> Any:
    return portal.client.post("/api/v1/session", json={"email": email, "password": PASSWORD})


def enrol_totp(portal: Portal, headers: dict[str, str]) -> tuple[str, list[str]]:
    started = portal.client.post("/api/v1/me/mfa/totp", headers=headers)
    assert started.status_code == 201, started.get_json()
    secret = started.get_json()["secret"]
    # the code of the next step: the step of "now" is then free for the sign-in that follows
    confirmed = portal.client.post(
        "/api/v1/me/mfa/totp/confirm",
        headers=headers,
        json={"code": code_at(secret, datetime.now(UTC), -1)},
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    return secret, confirmed.get_json()["recovery_codes"]


def second_step(portal: Portal, token: str, **factor: Any) -> Any:
    return portal.client.post("/api/v1/session/mfa", json={"mfa_token": token, **factor})


def test_a_sign_in_with_totp(portal):
    user = active_user(portal, PASSWORD)
    secret, codes = enrol_totp(portal, bearer(sign_in(portal, user["email"])))
    assert len(codes) == 10
    first = sign_in(portal, user["email"])
    assert first.status_code == 202, first.get_json()
    step = first.get_json()
    assert step["mfa_required"] is True and step["methods"] == ["totp", "recovery_code"]
    assert "token" not in step  # nothing is open yet
    code = code_at(secret, datetime.now(UTC))
    done = second_step(portal, step["mfa_token"], code=code)
    assert done.status_code == 201, done.get_json()
    me = portal.client.get("/api/v1/me", headers=bearer(done))
    assert me.status_code == 200 and me.get_json()["email"] == user["email"]
    factors = portal.client.get("/api/v1/me/mfa", headers=bearer(done)).get_json()
    assert factors["totp"] == {"enabled": True} and factors["recovery_codes_left"] == 10

    # the same code again, in its window, on a new sign-in: refused
    replayed = second_step(
        portal, sign_in(portal, user["email"]).get_json()["mfa_token"], code=code
    )
    assert replayed.status_code == 401
    # the step already used opens nothing twice
    assert second_step(portal, step["mfa_token"], code=code).status_code == 410


def test_a_sign_in_with_a_recovery_code(portal):
    user = active_user(portal, PASSWORD)
    _, codes = enrol_totp(portal, bearer(sign_in(portal, user["email"])))
    token = sign_in(portal, user["email"]).get_json()["mfa_token"]
    done = second_step(portal, token, recovery_code=codes[0])
    assert done.status_code == 201, done.get_json()
    again = second_step(
        portal, sign_in(portal, user["email"]).get_json()["mfa_token"], recovery_code=codes[0]
    )
    assert again.status_code == 401


def test_the_user_is_e_mailed_each_change_of_their_factors(portal):
    user = active_user(portal, PASSWORD)
    _, codes = enrol_totp(portal, bearer(sign_in(portal, user["email"])))
    second_step(
        portal, sign_in(portal, user["email"]).get_json()["mfa_token"], recovery_code=codes[1]
    )

    def subjects() -> list[str]:
        return [mail["subject"] for mail in mails_to(portal, user["email"])]

    wait_for(
        "the e-mails of the enrolment and of the recovery code used",
        lambda: (
            {"Your second factor settings have changed", "A recovery code was used to sign in"}
            <= set(subjects())
        ),
    )
    used = next(
        m for m in mails_to(portal, user["email"]) if m["subject"].startswith("A recovery code")
    )
    assert "9 recovery codes left" in used["text"]


def test_a_passkey_as_second_factor_and_alone(portal):
    user = active_user(portal, PASSWORD)
    headers = bearer(sign_in(portal, user["email"]))
    authenticator = SoftAuthenticator(ORIGIN)
    options = portal.client.post("/api/v1/me/mfa/passkeys/options", headers=headers)
    assert options.status_code == 200, options.get_json()
    assert options.get_json()["rp"]["id"] == "portal.example"
    registered = portal.client.post(
        "/api/v1/me/mfa/passkeys",
        headers=headers,
        json={"name": "Work laptop", "credential": authenticator.create(options.get_json())},
    )
    assert registered.status_code == 201, registered.get_json()
    assert (
        registered.get_json()["name"] == "Work laptop"
        and len(registered.get_json()["recovery_codes"]) == 10
    )

    step = sign_in(portal, user["email"]).get_json()
    assert step["methods"] == ["passkey", "recovery_code"]
    request = portal.client.post(
        "/api/v1/session/passkey/options", json={"mfa_token": step["mfa_token"]}
    )
    done = second_step(portal, step["mfa_token"], passkey=authenticator.get(request.get_json()))
    assert done.status_code == 201, done.get_json()

    alone = portal.client.post("/api/v1/session/passkey/options", json={}).get_json()
    signed = portal.client.post(
        "/api/v1/session/passkey", json={"credential": authenticator.get(alone)}
    )
    assert signed.status_code == 201, signed.get_json()
    assert signed.get_json()["user"]["email"] == user["email"]


@pytest.mark.parametrize(
    "credential",
    [
        {"id": "x"},
        {"id": "AA", "rawId": "AA", "type": "public-key", "response": {"clientDataJSON": "e30"}},
    ],
)
def test_a_malformed_passkey_is_a_422(portal, credential):
    user = active_user(portal, PASSWORD)
    headers = bearer(sign_in(portal, user["email"]))
    portal.client.post("/api/v1/me/mfa/passkeys/options", headers=headers)
    answer = portal.client.post(
        "/api/v1/me/mfa/passkeys", headers=headers, json={"name": "X", "credential": credential}
    )
    assert answer.status_code == 422, answer.get_json()
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert portal.client.get("/api/v1/me/mfa", headers=headers).get_json()["passkeys"] == []
    assert (
        portal.client.post("/api/v1/session/passkey", json={"credential": credential}).status_code
        == 422
    )


def test_the_policy_holds_a_session_to_enrolment_and_an_administrator_resets_factors(portal):
    admin = portal.admin()
    account_id = portal.accounts(admin)["90293531"]
    user = active_user(portal, PASSWORD)
    set_to = portal.client.patch(
        f"/api/v1/accounts/{account_id}/security",
        headers=admin,
        json={"mfa_required_for": "everyone"},
    )
    assert set_to.status_code == 200, set_to.get_json()
    try:
        held = sign_in(portal, user["email"])
        assert held.status_code == 202, held.get_json()
        assert held.get_json()["enrolment_required"] is True
        headers = bearer(held)
        refused = portal.client.get("/api/v1/me/subscriptions", headers=headers)
        assert refused.status_code == 403 and "second factor" in refused.get_json()["detail"]
        enrol_totp(portal, headers)
        assert portal.client.get("/api/v1/me/subscriptions", headers=headers).status_code == 200
        assert sign_in(portal, user["email"]).get_json()["mfa_required"] is True

        reset = portal.client.delete(
            f"/api/v1/accounts/{account_id}/users/{user['id']}/mfa", headers=admin
        )
        assert reset.status_code == 204
        assert sign_in(portal, user["email"]).get_json()["enrolment_required"] is True
        # a user who administers nothing cannot set the policy
        assert (
            portal.client.patch(
                f"/api/v1/accounts/{account_id}/security",
                headers=headers,
                json={"mfa_required_for": "nobody"},
            ).status_code
            == 403
        )
    finally:
        portal.client.patch(
            f"/api/v1/accounts/{account_id}/security",
            headers=admin,
            json={"mfa_required_for": "nobody"},
        )


def test_the_password_and_the_code_in_one_request(portal):
    user = active_user(portal, PASSWORD)
    secret, _ = enrol_totp(portal, bearer(sign_in(portal, user["email"])))
    code = code_at(secret, datetime.now(UTC))
    wrong = portal.client.post(
        "/api/v1/session", json={"email": user["email"], "password": PASSWORD, "code": "000000"}
    )
    assert wrong.status_code == 401  # the answer of a wrong password: nothing says which was wrong
    bad_password = portal.client.post(
        "/api/v1/session", json={"email": user["email"], "password": "not-it", "code": code}
    )
    assert bad_password.status_code == 401
    once = portal.client.post(
        "/api/v1/session", json={"email": user["email"], "password": PASSWORD, "code": code}
    )
    assert once.status_code == 201, once.get_json()
    assert portal.client.get("/api/v1/me", headers=bearer(once)).status_code == 200
    replayed = portal.client.post(
        "/api/v1/session", json={"email": user["email"], "password": PASSWORD, "code": code}
    )
    assert replayed.status_code == 401  # each code once
    audits = portal.client.get("/api/v1/me/audits", headers=bearer(once)).get_json()
    results = [a.get("result") for a in audits.get("items", audits) if a.get("action") == "sign_in"]
    assert results.count("failed") >= 3  # the wrong code, the wrong password, the replay


def test_a_code_sent_by_a_user_without_an_authenticator_application_changes_nothing(portal):
    user = active_user(portal, PASSWORD)
    answer = portal.client.post(
        "/api/v1/session", json={"email": user["email"], "password": PASSWORD, "code": "123456"}
    )
    assert answer.status_code == 201  # no factor: the password alone signs in, as it would

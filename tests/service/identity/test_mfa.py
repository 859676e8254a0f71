"""Second factors in identity: TOTP enrolment and sign-in (a code accepted once, ±1 step), the
mfa_token (5 minutes, single-use), recovery codes, passkeys driven by a software authenticator,
the account's policy, an administrator's reset, and wrong codes counted toward the lock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.mfa_kit import SoftAuthenticator, b64url, code_at
from tests.service.identity.conftest import PASSWORD, Driver

ORIGIN = "https://portal.example"  # the make_part fixture's PORTICO_PUBLIC_URL


@pytest.fixture
def account(svc):
    return svc.account()


def enrol_totp(svc: Driver, user_id: str) -> tuple[str, list[str]]:
    started = svc.post(f"/internal/users/{user_id}/mfa/totp")
    assert started.status_code == 201, started.json
    secret = started.json["secret"]
    confirmed = svc.post(
        f"/internal/users/{user_id}/mfa/totp/confirm", {"code": code_at(secret, svc.clock.now())}
    )
    assert confirmed.status_code == 200, confirmed.json
    svc.clock.advance(
        timedelta(seconds=30)
    )  # the enrolment's code is spent; the next step's is new
    return secret, confirmed.json["recovery_codes"]


def password_step(svc: Driver, email: str) -> dict[str, Any]:
    answer = svc.sign_in(email)
    assert answer.status_code == 200, answer.json
    assert answer.json["mfa_required"] is True, answer.json
    return answer.json


def second_step(svc: Driver, token: str, **factor: Any) -> Any:
    return svc.post("/internal/sign-in/mfa", {"mfa_token": token, "ip": "192.0.2.7", **factor})


def register_passkey(svc: Driver, user_id: str, authenticator: SoftAuthenticator) -> Any:
    options = svc.post(f"/internal/users/{user_id}/mfa/passkeys/options")
    assert options.status_code == 200, options.json
    return svc.post(
        f"/internal/users/{user_id}/mfa/passkeys",
        {"name": "Laptop", "credential": authenticator.create(options.json)},
    )


# --- TOTP ----------------------------------------------------------------------------------------


def test_totp_enrolment_shows_the_secret_once_and_gives_ten_recovery_codes(svc, account):
    user = svc.active_user(account["id"])
    started = svc.post(f"/internal/users/{user['id']}/mfa/totp").json
    assert started["otpauth_uri"].startswith("otpauth://totp/Portico:")
    assert f"secret={started['secret']}" in started["otpauth_uri"]
    wrong = svc.post(f"/internal/users/{user['id']}/mfa/totp/confirm", {"code": "000000"})
    assert wrong.status_code == 422 and "code" in wrong.json["errors"]
    assert svc.get(f"/internal/users/{user['id']}/mfa").json["totp"]["enabled"] is False

    confirmed = svc.post(
        f"/internal/users/{user['id']}/mfa/totp/confirm",
        {"code": code_at(started["secret"], svc.clock.now())},
    )
    assert confirmed.status_code == 200
    codes = confirmed.json["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert svc.get(f"/internal/users/{user['id']}/mfa").json == {
        "totp": {"enabled": True},
        "passkeys": [],
        "recovery_codes_left": 10,
        "required": False,
    }
    assert svc.last("identity.mfa.changed")["change"] == "totp_enabled"
    # at rest: the secret encrypted, the codes hashed
    (row,) = svc.rows("mfa_totp", user_id=user["id"])
    assert started["secret"] not in row.secret_encrypted
    stored = {r.code_hash for r in svc.rows("mfa_recovery_codes", user_id=user["id"])}
    assert len(stored) == 10 and not stored & set(codes)


def test_a_user_with_totp_signs_in_in_two_steps(svc, account):
    user = svc.active_user(account["id"])
    secret, _ = enrol_totp(svc, user["id"])
    step = password_step(svc, user["email"])
    assert step["methods"] == ["totp", "recovery_code"] and step["mfa_token"]
    assert "user" not in step
    done = second_step(svc, step["mfa_token"], code=code_at(secret, svc.clock.now()))
    assert done.status_code == 200, done.json
    assert done.json["user"]["id"] == user["id"]
    audits = [r for r in svc.rows("audit_log", user_id=user["id"]) if r.action == "sign_in"]
    assert [a.result for a in audits[-2:]] == ["second_factor_required", "succeeded"]


def test_a_totp_code_is_accepted_once_even_within_its_window(svc, account):
    user = svc.active_user(account["id"])
    secret, _ = enrol_totp(svc, user["id"])
    code = code_at(secret, svc.clock.now())
    assert (
        second_step(svc, password_step(svc, user["email"])["mfa_token"], code=code).status_code
        == 200
    )
    svc.clock.advance(timedelta(seconds=5))  # same 30 s step
    replayed = second_step(svc, password_step(svc, user["email"])["mfa_token"], code=code)
    assert replayed.status_code == 401
    # refused, audited as a failed sign-in, and the user is told (ASVS V2.8.5)
    assert svc.last("identity.mfa.changed")["change"] == "totp_code_reused"
    assert svc.rows("audit_log", action="mfa_totp_code_reused")
    # an earlier step's code is refused too once a later one was used
    svc.clock.advance(timedelta(seconds=30))
    earlier = code_at(secret, svc.clock.now(), -1)
    assert earlier == code
    assert (
        second_step(svc, password_step(svc, user["email"])["mfa_token"], code=earlier).status_code
        == 401
    )


def test_one_step_of_drift_is_accepted_two_are_not(svc, account):
    user = svc.active_user(account["id"])
    secret, _ = enrol_totp(svc, user["id"])
    now = svc.clock.now()
    assert (
        second_step(
            svc, password_step(svc, user["email"])["mfa_token"], code=code_at(secret, now, 2)
        ).status_code
        == 401
    )
    assert (
        second_step(
            svc, password_step(svc, user["email"])["mfa_token"], code=code_at(secret, now, 1)
        ).status_code
        == 200
    )


def test_the_mfa_token_lives_five_minutes_and_serves_once(svc, account):
    user = svc.active_user(account["id"])
    secret, _ = enrol_totp(svc, user["id"])
    token = password_step(svc, user["email"])["mfa_token"]
    svc.clock.advance(timedelta(minutes=5))
    expired = second_step(svc, token, code=code_at(secret, svc.clock.now()))
    assert expired.status_code == 410 and "sign in again" in expired.json["detail"]

    token = password_step(svc, user["email"])["mfa_token"]
    assert second_step(svc, token, code=code_at(secret, svc.clock.now())).status_code == 200
    svc.clock.advance(timedelta(seconds=30))
    assert second_step(svc, token, code=code_at(secret, svc.clock.now())).status_code == 410
    assert second_step(svc, "not-a-token", code="123456").status_code == 401


def test_wrong_codes_count_toward_the_lock_of_wrong_passwords(svc, account):
    user = svc.active_user(account["id"])  # level 2: the lock also locks the user
    secret, _ = enrol_totp(svc, user["id"])
    svc.sign_in(user["email"], "Wrong-Password-1")
    svc.sign_in(user["email"], "Wrong-Password-2")
    token = password_step(svc, user["email"])["mfa_token"]  # a right password clears nothing
    assert second_step(svc, token, code="000000").status_code == 401
    assert second_step(svc, token, code="111111").status_code == 401
    assert second_step(svc, token, code="222222").status_code == 423  # the fifth failure
    assert svc.sign_in(user["email"]).status_code == 423
    assert second_step(svc, token, code=code_at(secret, svc.clock.now())).status_code == 423
    assert svc.last("identity.user.locked")["user_id"] == user["id"]


def test_the_second_step_names_exactly_one_factor(svc, account):
    user = svc.active_user(account["id"])
    enrol_totp(svc, user["id"])
    token = password_step(svc, user["email"])["mfa_token"]
    both = second_step(svc, token, code="123456", recovery_code="abcde-fghij")
    assert both.status_code == 422
    assert second_step(svc, token).status_code == 422


def test_removing_totp_needs_the_password(svc, account):
    user = svc.active_user(account["id"])
    enrol_totp(svc, user["id"])
    wrong = svc.call("DELETE", f"/internal/users/{user['id']}/mfa/totp", {"password": "nope"})
    assert wrong.status_code == 422 and "password" in wrong.json["errors"]
    assert (
        svc.call(
            "DELETE", f"/internal/users/{user['id']}/mfa/totp", {"password": PASSWORD}
        ).status_code
        == 204
    )
    assert svc.last("identity.mfa.changed")["change"] == "totp_removed"
    assert "user" in svc.sign_in(user["email"]).json  # the password alone again


# --- recovery codes -----------------------------------------------------------------------------


def test_a_recovery_code_signs_in_once(svc, account):
    user = svc.active_user(account["id"])
    _, codes = enrol_totp(svc, user["id"])
    typed = codes[3].upper().replace("-", " ")  # typed loosely
    done = second_step(svc, password_step(svc, user["email"])["mfa_token"], recovery_code=typed)
    assert done.status_code == 200
    event = svc.last("identity.mfa.changed")
    assert (event["change"], event["recovery_codes_left"]) == ("recovery_code_used", 9)
    again = second_step(svc, password_step(svc, user["email"])["mfa_token"], recovery_code=codes[3])
    assert again.status_code == 401
    assert svc.get(f"/internal/users/{user['id']}/mfa").json["recovery_codes_left"] == 9


# --- passkeys -----------------------------------------------------------------------------------


def test_a_passkey_registers_and_serves_as_second_factor(svc, account):
    user = svc.active_user(account["id"])
    authenticator = SoftAuthenticator(ORIGIN)
    registered = register_passkey(svc, user["id"], authenticator)
    assert registered.status_code == 201, registered.json
    assert registered.json["name"] == "Laptop" and len(registered.json["recovery_codes"]) == 10
    step = password_step(svc, user["email"])
    assert step["methods"] == ["passkey", "recovery_code"]
    options = svc.post("/internal/sign-in/passkey/options", {"mfa_token": step["mfa_token"]}).json
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(authenticator.credential_id)]
    done = second_step(svc, step["mfa_token"], passkey=authenticator.get(options))
    assert done.status_code == 200, done.json
    keys = svc.get(f"/internal/users/{user['id']}/mfa").json["passkeys"]
    assert keys[0]["last_used_at"] is not None


def test_a_passkey_signs_in_without_password(svc, account):
    user = svc.active_user(account["id"])
    authenticator = SoftAuthenticator(ORIGIN)
    assert register_passkey(svc, user["id"], authenticator).status_code == 201
    options = svc.post("/internal/sign-in/passkey/options", {}).json
    assertion = authenticator.get(options)
    done = svc.post("/internal/sign-in/passkey", {"credential": assertion})
    assert done.status_code == 200, done.json
    assert done.json["user"]["id"] == user["id"]
    replayed = svc.post("/internal/sign-in/passkey", {"credential": assertion})
    assert replayed.status_code == 410  # its challenge was spent


def test_a_passkey_from_another_origin_is_refused(svc, account):
    user = svc.active_user(account["id"])
    authenticator = SoftAuthenticator(ORIGIN)
    register_passkey(svc, user["id"], authenticator)
    options = svc.post("/internal/sign-in/passkey/options", {}).json
    phished = svc.post(
        "/internal/sign-in/passkey",
        {"credential": authenticator.get(options, origin="https://portal.example.evil")},
    )
    assert phished.status_code == 401


@pytest.mark.parametrize(
    "credential",
    [
        {"id": "x"},
        {
            "id": "AA",
            "rawId": "AA",
            "type": "public-key",
            "response": {"clientDataJSON": "!!", "attestationObject": "AA"},
        },
        "not an object",
    ],
)
def test_a_malformed_passkey_registration_is_a_422_and_writes_nothing(svc, account, credential):
    user = svc.active_user(account["id"])
    svc.post(f"/internal/users/{user['id']}/mfa/passkeys/options")
    before = (
        len(svc.rows("mfa_passkeys")),
        len(svc.rows("audit_log")),
        len(svc.envelopes()),
        [r.used_at for r in svc.rows("mfa_challenges")],
    )
    answer = svc.post(
        f"/internal/users/{user['id']}/mfa/passkeys", {"name": "X", "credential": credential}
    )
    assert answer.status_code == 422, answer.json
    assert answer.json["errors"]["credential"]
    after = (
        len(svc.rows("mfa_passkeys")),
        len(svc.rows("audit_log")),
        len(svc.envelopes()),
        [r.used_at for r in svc.rows("mfa_challenges")],
    )
    assert after == before


def test_a_malformed_passkey_sign_in_is_a_422(svc, account):
    answer = svc.post("/internal/sign-in/passkey", {"credential": {"id": "x", "response": {}}})
    assert answer.status_code == 422
    assert svc.rows("audit_log", action="sign_in") == []


# --- the account's policy, the last factor, an administrator's reset --------------------------


def test_a_user_the_policy_covers_without_a_factor_must_enrol(svc, account):
    admin = svc.active_user(account["id"])
    svc.grant_admin(account["id"], admin["id"])
    user = svc.active_user(account["id"])
    changed = svc.patch(
        f"/internal/accounts/{account['id']}/security",
        {"mfa_required_for": "administrators"},
        actor=admin["id"],
    )
    assert changed.status_code == 200 and changed.json["mfa_required_for"] == "administrators"
    assert svc.last("identity.account.security_changed")["mfa_required_for"] == "administrators"
    assert svc.sign_in(admin["email"]).json["enrolment_required"] is True
    assert svc.sign_in(user["email"]).json["enrolment_required"] is False
    svc.patch(
        f"/internal/accounts/{account['id']}/security",
        {"mfa_required_for": "everyone"},
        actor=admin["id"],
    )
    assert svc.sign_in(user["email"]).json["enrolment_required"] is True
    audits = [
        r
        for r in svc.rows("audit_log", account_id=account["id"])
        if r.action == "mfa_policy_changed"
    ]
    assert len(audits) == 2
    bad = svc.patch(f"/internal/accounts/{account['id']}/security", {"mfa_required_for": "some"})
    assert bad.status_code == 422 and "mfa_required_for" in bad.json["errors"]


def test_the_last_factor_the_policy_requires_cannot_be_removed(svc, account):
    user = svc.active_user(account["id"])
    authenticator = SoftAuthenticator(ORIGIN)
    passkey = register_passkey(svc, user["id"], authenticator).json
    svc.patch(
        f"/internal/accounts/{account['id']}/security",
        {"mfa_required_for": "everyone"},
        actor="operator",
    )
    refused = svc.delete(f"/internal/users/{user['id']}/mfa/passkeys/{passkey['id']}")
    assert refused.status_code == 409 and "last" in refused.json["detail"]
    enrol_totp(svc, user["id"])
    assert (
        svc.delete(f"/internal/users/{user['id']}/mfa/passkeys/{passkey['id']}").status_code == 204
    )
    assert (
        svc.call(
            "DELETE", f"/internal/users/{user['id']}/mfa/totp", {"password": PASSWORD}
        ).status_code
        == 409
    )


def test_an_administrator_resets_a_users_factors(svc, account):
    admin = svc.active_user(account["id"])
    user = svc.active_user(account["id"])
    enrol_totp(svc, user["id"])
    register_passkey(svc, user["id"], SoftAuthenticator(ORIGIN))
    other = svc.account()
    assert (
        svc.delete(
            f"/internal/accounts/{other['id']}/users/{user['id']}/mfa", actor=admin["id"]
        ).status_code
        == 404
    )
    assert (
        svc.delete(
            f"/internal/accounts/{account['id']}/users/{user['id']}/mfa", actor=admin["id"]
        ).status_code
        == 204
    )
    assert svc.get(f"/internal/users/{user['id']}/mfa").json == {
        "totp": {"enabled": False},
        "passkeys": [],
        "recovery_codes_left": 0,
        "required": False,
    }
    event = svc.last("identity.mfa.changed")
    assert (event["change"], event["by"]) == ("factors_reset", admin["id"])
    assert "user" in svc.sign_in(user["email"]).json


def test_passkey_challenges_are_random_64_bits_at_least_and_the_algorithms_approved(svc, account):
    """ASVS V2.9.2 and V2.9.3: every ceremony's challenge is a fresh nonce of 64 bits or more,
    and the registration asks only for approved signature algorithms (COSE: ES256/384/512,
    EdDSA, PS256/384/512, RS256/384/512)."""
    import base64

    user = svc.active_user(account["id"])

    def challenge(answer: dict[str, Any]) -> bytes:
        text = answer["challenge"]
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    registrations = [
        svc.post(f"/internal/users/{user['id']}/mfa/passkeys/options").json for _ in range(3)
    ]
    sign_ins = [svc.post("/internal/sign-in/passkey/options", {}).json for _ in range(3)]
    nonces = [challenge(options) for options in registrations + sign_ins]
    assert all(len(nonce) * 8 >= 64 for nonce in nonces), [len(n) for n in nonces]
    assert len(set(nonces)) == len(nonces), "a challenge was given twice"
    approved = {-7, -35, -36, -8, -37, -38, -39, -257, -258, -259}
    algorithms = {p["alg"] for options in registrations for p in options["pubKeyCredParams"]}
    assert algorithms and algorithms <= approved, algorithms

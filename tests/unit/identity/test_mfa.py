"""Second factors' rules with no I/O: TOTP windows (clock given), a code used once, the account's
policy, recovery codes and the key that keeps secrets at rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from services.identity.domain import mfa
from services.identity.domain.mfa import MfaKey, MfaPolicy

NOW = datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC)
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def code(offset_seconds: int) -> str:
    return pyotp.TOTP(SECRET).at(NOW + timedelta(seconds=offset_seconds))


def test_codes_are_rfc_6238_sha1_six_digits_thirty_seconds():
    # RFC 6238 appendix B: the SHA-1 secret "12345678901234567890" at T=59 s gives 94287082 (8 digits)
    rfc_secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert mfa.totp_code(rfc_secret, mfa.totp_step(datetime.fromtimestamp(59, UTC))) == "287082"


@pytest.mark.parametrize(
    "offset, accepted", [(-60, False), (-30, True), (0, True), (30, True), (60, False)]
)
def test_one_step_of_drift_either_way(offset, accepted):
    found = mfa.matching_step(SECRET, code(offset), NOW, last_used_step=None)
    assert (found is not None) is accepted


def test_a_step_used_is_never_accepted_again_nor_an_earlier_one():
    step = mfa.matching_step(SECRET, code(0), NOW, last_used_step=None)
    assert step == mfa.totp_step(NOW)
    assert mfa.matching_step(SECRET, code(0), NOW, last_used_step=step) is None
    assert mfa.matching_step(SECRET, code(-30), NOW, last_used_step=step) is None
    assert mfa.matching_step(SECRET, code(30), NOW, last_used_step=step) == step + 1


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_what_is_no_code_is_refused(typed):
    assert mfa.matching_step(SECRET, typed, NOW, last_used_step=None) is None


def test_spaces_in_a_typed_code_are_ignored():
    typed = code(0)
    assert (
        mfa.matching_step(SECRET, f"{typed[:3]} {typed[3:]}", NOW, last_used_step=None) is not None
    )


@pytest.mark.parametrize(
    "policy, admin, covered",
    [
        (MfaPolicy.NOBODY, True, False),
        (MfaPolicy.ADMINISTRATORS, True, True),
        (MfaPolicy.ADMINISTRATORS, False, False),
        (MfaPolicy.EVERYONE, False, True),
    ],
)
def test_the_policy_covers(policy, admin, covered):
    assert policy.covers(is_administrator=admin) is covered


def test_ten_distinct_recovery_codes_compared_loosely():
    codes = mfa.new_recovery_codes()
    assert len(set(codes)) == 10 and all(len(c) == 11 and c[5] == "-" for c in codes)
    key = MfaKey("k" * 40)
    assert key.hash_recovery_code(codes[0]) == key.hash_recovery_code(
        f" {codes[0].upper().replace('-', ' ')} "
    )
    assert key.hash_recovery_code(codes[0]) != MfaKey("j" * 40).hash_recovery_code(codes[0])


def test_a_secret_is_encrypted_and_only_its_key_reads_it():
    key = MfaKey("a-secret-of-the-environment-0123456789")
    sealed = key.encrypt(SECRET)
    assert SECRET not in sealed and key.decrypt(sealed) == SECRET
    with pytest.raises(ValueError, match="PORTICO_MFA_KEY"):
        MfaKey("another-secret-of-the-environment-01234").decrypt(sealed)


def test_methods_list_recovery_codes_only_beside_a_factor():
    assert mfa.Factors(totp=False, passkeys=0, recovery_codes_left=5).methods() == []
    assert mfa.Factors(totp=True, passkeys=1, recovery_codes_left=5).methods() == [
        "totp",
        "passkey",
        "recovery_code",
    ]
    assert mfa.Factors(totp=True, passkeys=0, recovery_codes_left=0).methods() == ["totp"]


def test_a_weak_mfa_key_stops_identity_and_an_unset_one_does_not():
    from bus.config import ConfigError
    from bus.secrets import check_secrets

    env = {"PORTICO_SERVICE_TOKEN": "s" * 20 + "0123456789abcdefghij"}
    check_secrets("identity", env)  # unset: derived from the service token
    with pytest.raises(ConfigError, match="PORTICO_MFA_KEY"):
        check_secrets("identity", {**env, "PORTICO_MFA_KEY": "dev-mfa-change-me"})


# -- how a sign-in was made (RFC 8176 amr) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("factor", "synced", "expected"),
    [
        ("totp", False, ("pwd", "otp", "mfa")),
        ("recovery_code", False, ("pwd", "otp", "mfa")),
        ("passkey", False, ("pwd", "hwk", "mfa")),
        ("passkey", True, ("pwd", "swk", "mfa")),
    ],
)
def test_a_second_step_names_the_password_its_factor_and_mfa(factor, synced, expected):
    assert mfa.second_step_amr(factor, passkey_synced=synced) == expected


def test_a_passkey_alone_is_its_kind_and_mfa_and_a_password_alone_is_pwd():
    assert mfa.passkey_alone_amr(synced=False) == ("hwk", "mfa")
    assert mfa.passkey_alone_amr(synced=True) == ("swk", "mfa")
    assert mfa.AMR_PASSWORD == ("pwd",)

"""Second factors' rules: TOTP codes (RFC 6238, each accepted once), recovery codes, the
account's policy, and the key that keeps TOTP secrets and recovery codes unreadable at rest.

Plain Python: the clock is an argument, nothing here reads the database or the environment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bus.i18n import _l

TOTP_DIGITS = 6
TOTP_PERIOD = 30  # seconds; SHA-1, as every authenticator application reads it
TOTP_DRIFT_STEPS = 1  # a code of the step before or after is accepted too
ISSUER = "Portico"
RECOVERY_CODE_COUNT = 10
MFA_TOKEN_LIFETIME = timedelta(minutes=5)
ENROLMENT_TOKEN_LIFETIME = timedelta(minutes=15)
CHALLENGE_LIFETIME = timedelta(minutes=5)

WRONG_CODE = _l(
    "This code is not right, or was already used; type the code your application shows now.",
    code="mfa.wrong_code",
)
SECOND_FACTOR_UNKNOWN = _l(
    "This sign-in step is not known; sign in again with your e-mail and password.",
    code="mfa.step_unknown",
)
SECOND_FACTOR_GONE = _l(
    "This sign-in step has expired or was already used; sign in again with your"
    " e-mail and password.",
    code="mfa.step_gone",
)


class MfaPolicy(StrEnum):
    """Who in an account must have a second factor."""

    NOBODY = "nobody"
    ADMINISTRATORS = "administrators"
    EVERYONE = "everyone"

    def covers(self, *, is_administrator: bool) -> bool:
        if self is MfaPolicy.EVERYONE:
            return True
        return self is MfaPolicy.ADMINISTRATORS and is_administrator


# --- how a sign-in was made (RFC 8176 "amr" values, for the OpenID Connect provider's ID tokens) --

AMR_PASSWORD = ("pwd",)


def passkey_amr(*, synced: bool) -> str:
    """A passkey as RFC 8176 names it: a credential that can be backed up (synced between a
    person's devices, WebAuthn's backup-eligible flag) is a software-secured key, "swk"; one
    bound to its authenticator is a hardware-secured key, "hwk"."""
    return "swk" if synced else "hwk"


def second_step_amr(factor: str, *, passkey_synced: bool = False) -> tuple[str, ...]:
    """The password then one factor: "otp" for an authenticator application's code and for a
    recovery code (a one-time code either way), the passkey's kind, and "mfa" (two factors)."""
    used = "otp" if factor in ("totp", "recovery_code") else passkey_amr(synced=passkey_synced)
    return ("pwd", used, "mfa")


def passkey_alone_amr(*, synced: bool) -> tuple[str, ...]:
    """A sign-in with a passkey alone, user verification required: the key held and the
    authenticator's PIN or biometrics (which one it does not say) are two factors."""
    return (passkey_amr(synced=synced), "mfa")


# --- TOTP ---------------------------------------------------------------------------------------


def new_totp_secret() -> str:
    """A fresh base32 secret of 160 bits (RFC 4226's recommended length)."""
    return pyotp.random_base32(32)


def otpauth_uri(secret: str, account_name: str) -> str:
    """The otpauth:// URI an authenticator application reads (from a QR code or typed)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(
        name=account_name, issuer_name=ISSUER
    )


def totp_step(now: datetime) -> int:
    """The RFC 6238 time step of `now`."""
    return int(now.timestamp()) // TOTP_PERIOD


def totp_code(secret: str, step: int) -> str:
    """The code of `step` (tests and the enrolment page's check use it)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).generate_otp(step)


def matching_step(
    secret: str, code: str, now: datetime, *, last_used_step: int | None
) -> int | None:
    """The step whose code `code` is, within ±1 step of `now` and after the last step used; None
    when it is no such code (a replayed code, even within its window, is refused)."""
    code = "".join(code.split())
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    current = totp_step(now)
    found = None
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp_code(secret, step), code):  # each compared: no early exit
            found = step
    if found is None or (last_used_step is not None and found <= last_used_step):
        return None
    return found


def is_replayed(secret: str, code: str, now: datetime, *, last_used_step: int | None) -> bool:
    """Whether `code` is a right code of a step already used (typed again: refused, and the
    user is told, ASVS V2.8.5)."""
    if last_used_step is None:
        return False
    again = matching_step(secret, code, now, last_used_step=None)
    return again is not None and again <= last_used_step


# --- recovery codes -----------------------------------------------------------------------------


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Codes of 50 random bits each, written as two groups of five (e.g. `k3v9q-7m2xa`)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
    codes = []
    for _ in range(count):
        text = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{text[:5]}-{text[5:]}")
    return codes


def normalise_recovery_code(code: str) -> str:
    """The form a recovery code is compared in: no spaces or dashes, lower case."""
    return "".join(ch for ch in code.lower() if ch.isalnum())


# --- the key ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MfaKey:
    """Encrypts TOTP secrets (Fernet: AES-128-CBC and HMAC-SHA256) and hashes recovery codes
    (HMAC-SHA256), with keys derived by HKDF from one secret of the environment."""

    secret: str

    def _derive(self, purpose: bytes) -> bytes:
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"portico-identity", info=purpose
        ).derive(self.secret.encode("utf-8"))

    @property
    def _fernet(self) -> Fernet:
        return Fernet(base64.urlsafe_b64encode(self._derive(b"totp secrets")))

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ValueError(
                "a TOTP secret cannot be read with this key: was PORTICO_MFA_KEY "
                "changed? The user's factors must be reset by an administrator"
            ) from None

    def hash_recovery_code(self, code: str) -> str:
        return hmac.new(
            self._derive(b"recovery codes"),
            normalise_recovery_code(code).encode("ascii"),
            hashlib.sha256,
        ).hexdigest()


# --- records the repository answers -------------------------------------------------------------


@dataclass(frozen=True)
class TotpFactor:
    user_id: str
    secret_encrypted: str
    confirmed_at: datetime | None
    last_used_step: int | None
    created_at: datetime


@dataclass(frozen=True)
class Passkey:
    id: str
    user_id: str
    credential_id: str  # base64url
    public_key: str  # base64url of the COSE key
    sign_count: int
    name: str
    transports: str | None
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class Challenge:
    """A one-time step (an mfa_token or a WebAuthn challenge), known by its SHA-256."""

    token_hash: str
    purpose: str
    user_id: str | None
    expires_at: datetime
    used_at: datetime | None

    def usable(self, purpose: str | tuple[str, ...], now: datetime) -> bool:
        purposes = (purpose,) if isinstance(purpose, str) else purpose
        return self.purpose in purposes and self.used_at is None and now < self.expires_at


@dataclass(frozen=True)
class Factors:
    """What second factors a user has (confirmed ones only)."""

    totp: bool
    passkeys: int
    recovery_codes_left: int
    policy: MfaPolicy = MfaPolicy.NOBODY  # the account's, when asked for

    @property
    def any(self) -> bool:
        return self.totp or self.passkeys > 0

    def methods(self) -> list[str]:
        found = (["totp"] if self.totp else []) + (["passkey"] if self.passkeys else [])
        return found + (["recovery_code"] if self.any and self.recovery_codes_left else [])

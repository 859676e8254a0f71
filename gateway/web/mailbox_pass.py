"""The operator's pass to the built-in mailbox: a signed cookie, never the operator token itself.

The pass holds a digest of the operator token keyed with the secret key, and the instant it ends,
signed with the secret key (itsdangerous). It opens the mailbox while it has not ended and the
operator token is still the one it was made from: a new operator token, or a new secret key,
ends every pass given before.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "portico_mailbox"
_SALT = "portico.mailbox-pass"


def is_operator_token(given: str, operator_token: str) -> bool:
    """Whether `given` is the operator token (compared in constant time)."""
    return hmac.compare_digest(given.encode(), operator_token.encode())


def _fingerprint(secret_key: str, operator_token: str) -> str:
    return hmac.new(
        secret_key.encode(), b"mailbox-pass\0" + operator_token.encode(), hashlib.sha256
    ).hexdigest()


def issue(secret_key: str, operator_token: str, now: datetime, lifetime: timedelta) -> str:
    """The cookie's value for an operator who typed the right token at `now`."""
    until = int((now + lifetime).timestamp())
    return URLSafeSerializer(secret_key, salt=_SALT).dumps(
        {"fp": _fingerprint(secret_key, operator_token), "until": until}
    )


def opens(value: str | None, secret_key: str, operator_token: str, now: datetime) -> bool:
    """Whether the cookie's value is a pass of this operator token that has not ended at `now`."""
    if not value:
        return False
    try:
        data = URLSafeSerializer(secret_key, salt=_SALT).loads(value)
    except BadSignature:
        return False
    if not isinstance(data, dict):
        return False
    fingerprint, until = data.get("fp"), data.get("until")
    if not isinstance(fingerprint, str) or not isinstance(until, int) or now.timestamp() >= until:
        return False
    return hmac.compare_digest(fingerprint, _fingerprint(secret_key, operator_token))

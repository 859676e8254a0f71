"""The provider's signing keys as joserfc keys, and their private halves encrypted at rest
(Fernet, with a key derived by HKDF from PORTICO_SECRET_KEY)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey

from gateway.domain.oidc import SIGNING_ALG


class KeyUnreadable(Exception):
    """A stored private key cannot be decrypted: the secret it was encrypted with has changed."""


@dataclass(frozen=True)
class NewKey:
    kid: str
    alg: str
    public_jwk: str
    private_jwk: str  # encrypted


@lru_cache(maxsize=8)
def _fernet(secret: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"portico-oidc-signing-keys",
        info=b"private keys at rest",
    ).derive(secret.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(derived))


def generate_key(secret: str) -> NewKey:
    """A fresh P-256 key (ES256); its kid is its RFC 7638 thumbprint."""
    key = ECKey.generate_key("P-256", private=True)
    kid = key.thumbprint()
    public = {**key.as_dict(private=False), "kid": kid, "alg": SIGNING_ALG, "use": "sig"}
    private = json.dumps(key.as_dict(private=True)).encode("utf-8")
    return NewKey(
        kid, SIGNING_ALG, json.dumps(public), _fernet(secret).encrypt(private).decode("ascii")
    )


@lru_cache(maxsize=16)
def private_key(kid: str, encrypted: str, secret: str) -> ECKey:
    """The signing key of a stored row (decrypted once per process and key)."""
    try:
        data = json.loads(_fernet(secret).decrypt(encrypted.encode("ascii")))
    except InvalidToken:
        raise KeyUnreadable(
            f"The signing key {kid} cannot be decrypted with the current secret; rotate the key "
            "(portico oidc-rotate-key) or restore the secret it was made with."
        ) from None
    return ECKey.import_key({**data, "kid": kid})

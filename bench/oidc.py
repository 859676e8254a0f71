"""OpenID Connect provider: authorization-code exchanges per second at POST /oauth2/token (the ID
token's ES256 signature included), beside the bare signing rate of the same key with joserfc in
the same run. Target: at least half the bare rate.

The embedded portal with its demo, called in-process through its WSGI app (no sockets): the codes
are minted first (authorize is not timed), then exchanged one after the other.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import secrets
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt

from bench.common import Result

EXCHANGES = int(os.environ.get("BENCH_OIDC_EXCHANGES", "300"))
OPERATOR_TOKEN = "bench-operator-token-0123456789abcdef0123"
CALLBACK = "https://app.example.com/callback"


def run() -> list[Result]:
    from gateway.entrypoints.oidc_server import provider
    from portico import demo
    from portico.runtime import Embedded

    with tempfile.TemporaryDirectory() as folder:
        env = {
            "PORTICO_BUS_PREFIX": f"benchoidc{secrets.token_hex(3)}",
            "PORTICO_OPERATOR_TOKEN": OPERATOR_TOKEN,
        }
        embedded = Embedded(Path(folder), env).build().start()
        try:
            assert demo.load_once(embedded, io.StringIO())
            app = embedded.gateway
            api = app.test_client()
            client = api.post(
                "/api/v1/operator/oidc-clients",
                headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
                json={"name": "Bench", "redirect_uris": [CALLBACK]},
            ).get_json()
            browser = app.test_client()
            signed = browser.post(
                "/api/v1/session",
                json={"email": demo.ADMINS["90293531"]["email"], "password": demo.PASSWORD},
            )
            assert signed.status_code == 201, signed.get_json()
            grants = [mint(browser, client) for _ in range(EXCHANGES)]
            auth = base64.b64encode(
                f"{client['client_id']}:{client['client_secret']}".encode()
            ).decode()
            started = time.perf_counter()
            for code, verifier in grants:
                answer = api.post(
                    "/oauth2/token",
                    headers={"Authorization": f"Basic {auth}"},
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": CALLBACK,
                        "code_verifier": verifier,
                    },
                )
                assert answer.status_code == 200 and "id_token" in answer.get_json(), (
                    answer.get_data()
                )
            ours = EXCHANGES / (time.perf_counter() - started)
            with app.app_context():
                kid, key = provider().signing_key()
            bare = bare_signing_rate(kid, key)
        finally:
            embedded.stop.set()
    return [
        Result(
            "oidc_code_exchanges_per_s",
            "exchanges/s",
            round(ours, 1),
            "bare ES256 ID token signing with joserfc, same key",
            round(bare, 1),
            ">= 0.5x bare",
            ours >= 0.5 * bare,
            {"exchanges": EXCHANGES},
        )
    ]


def mint(browser, client: dict) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    answer = browser.get(
        "/oauth2/authorize",
        query_string={
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": CALLBACK,
            "scope": "openid profile email",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:300]
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0], verifier


def bare_signing_rate(kid: str, key: object, seconds: float = 2.0) -> float:
    """ID-token-shaped claims signed in a loop with the same key: the ceiling of the exchange."""
    claims = {
        "iss": "http://127.0.0.1:8000",
        "aud": ["portico-bench"],
        "sub": "5d3c2b1a-7e6f-4a9b-8c7d-6e5f4a3b2c1d",
        "email": "claire.dubois@retail-it.example",
        "portico_services": ["invoice_viewing"],
        "iat": 0,
        "exp": 1,
    }
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        jwt.encode({"alg": "ES256", "kid": kid}, claims, key)
        count += 1
    return count / (time.perf_counter() - started)

"""OpenID Connect provider: authorization-code exchanges per second at POST /oauth2/token (the ID
token's ES256 signature included), through the gateway as it is deployed (the cluster of
tests/e2e/harness.py, as bench/signin.py starts it: gunicorn, 2 workers per part, RabbitMQ,
PostgreSQL), beside, in the same run:

- the bare signing rate of the same key with joserfc (ID-token-shaped claims, in as many
  processes as the gateway has workers): the target is at least half of it;
- the ceiling of the server stack: GET /healthz of the same gateway (gunicorn, Flask, the
  guards, no database), by the same clients; an exchange cannot be faster than that.

Rounds alternate so that the load of the shared machine weighs on each figure alike. Each round
mints its codes first (GET /oauth2/authorize with a session cookie, not timed; a code lives 60
seconds), then CLIENTS threads exchange them, each on its own keep-alive connection.

`python -m bench.oidc profile` prints the top frames of a cProfile of the token endpoint in the
embedded mode (in-process, no sockets): where an exchange's time goes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import os
import queue
import secrets
import sys
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt

from bench.common import Result, median

CLIENTS = int(os.environ.get("BENCH_OIDC_CLIENTS", "4"))
CODES = int(os.environ.get("BENCH_OIDC_CODES", "400"))  # exchanged per round
ROUNDS = int(os.environ.get("BENCH_OIDC_ROUNDS", "3"))
SECONDS = float(os.environ.get("BENCH_OIDC_SECONDS", "3"))  # per round, ceiling and bare
BARE_PROCESSES = 2  # as many as the gateway's gunicorn workers
CALLBACK = "https://app.example.com/callback"


def run() -> list[Result]:
    from bench.signin import LIMITS, start_cluster

    bench = start_cluster(env=LIMITS)
    try:
        return measure(bench)
    finally:
        bench.stop()


# --- the cluster's side ---------------------------------------------------------------------------


def register_client(cluster: Any) -> dict[str, Any]:
    answer = cluster.http.post(
        "/api/v1/operator/oidc-clients",
        headers=cluster.operator_headers,
        json={"name": "Bench", "redirect_uris": [CALLBACK]},
    )
    answer.raise_for_status()
    return answer.json()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def mint(base_url: str, session_token: str, client: dict[str, Any], count: int) -> queue.Queue:
    """`count` fresh codes (with their verifiers), minted by CLIENTS threads."""
    minted: queue.Queue = queue.Queue()

    def work(share: int) -> None:
        with httpx.Client(
            base_url=base_url, timeout=30, cookies={"portico_session": session_token}
        ) as http:
            for _ in range(share):
                verifier, challenge = pkce()
                answer = http.get(
                    "/oauth2/authorize",
                    params={
                        "response_type": "code",
                        "client_id": client["client_id"],
                        "redirect_uri": CALLBACK,
                        "scope": "openid profile email",
                        "state": "s",
                        "code_challenge": challenge,
                        "code_challenge_method": "S256",
                    },
                )
                if answer.status_code not in (302, 303):
                    raise RuntimeError(f"authorize: {answer.status_code} {answer.text[:300]}")
                code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
                minted.put((code, verifier))

    shares = [count // CLIENTS + (1 if i < count % CLIENTS else 0) for i in range(CLIENTS)]
    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return minted


def exchange_all(base_url: str, client: dict[str, Any], codes: queue.Queue) -> tuple[float, dict]:
    """Every code exchanged by CLIENTS threads: (exchanges per second, errors by status)."""
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    errors: dict[int, int] = {}
    done = [0] * CLIENTS
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS + 1)

    def work(index: int) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            start.wait()
            while True:
                try:
                    code, verifier = codes.get_nowait()
                except queue.Empty:
                    return
                answer = http.post(
                    "/oauth2/token",
                    headers={"Authorization": f"Basic {basic}"},
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": CALLBACK,
                        "code_verifier": verifier,
                    },
                )
                if answer.status_code == 200 and "id_token" in answer.json():
                    done[index] += 1
                else:
                    with lock:
                        errors[answer.status_code] = errors.get(answer.status_code, 0) + 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - began), errors


def trivial_rate(base_url: str, seconds: float) -> float:
    """GET /healthz of the same gateway by CLIENTS threads: the server stack's ceiling."""
    from bench.signin import hammer

    load = hammer(base_url, CLIENTS, seconds, lambda http, _: http.get("/healthz"), 200)
    return load.rate


def signing_key(cluster: Any) -> tuple[str, str]:
    """(kid, private JWK as JSON) of the key the gateway signs with, read from its database."""
    import sqlalchemy as sa

    from gateway.adapters.oidc_keys import private_key

    engine = sa.create_engine(cluster.db_urls["gateway"])
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT kid, private_jwk FROM oidc_keys WHERE retired_at IS NULL "
                    "ORDER BY created_at DESC LIMIT 1"
                )
            ).one()
    finally:
        engine.dispose()
    key = private_key(row.kid, row.private_jwk, cluster.secret_key)
    return row.kid, json.dumps(key.as_dict(private=True))


# --- the bare baseline ----------------------------------------------------------------------------

CLAIMS = {
    "iss": "http://127.0.0.1:8000",
    "aud": ["portico-bench"],
    "sub": "5d3c2b1a-7e6f-4a9b-8c7d-6e5f4a3b2c1d",
    "email": "claire.dubois@retail-it.example",
    "email_verified": True,
    "name": "Claire Dubois",
    "portico_account": {"id": "0b6f4e2a-8c1d", "number": "90293531", "name": "Retail IT"},
    "portico_services": ["invoice_viewing"],
    "portico_administers": [],
    "iat": 0,
    "exp": 1,
    "auth_time": 0,
    "amr": ["pwd"],
}


def _bare_signatures(job: tuple[str, str, float]) -> int:
    from joserfc.jwk import ECKey

    kid, jwk, seconds = job
    key = ECKey.import_key(json.loads(jwk))
    count, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        jwt.encode({"alg": "ES256", "kid": kid}, CLAIMS, key)
        count += 1
    return count


def bare_rate(pool: Any, kid: str, jwk: str, seconds: float) -> float:
    return sum(pool.map(_bare_signatures, [(kid, jwk, seconds)] * BARE_PROCESSES)) / seconds


def measure(bench: Any) -> list[Result]:
    cluster = bench.cluster
    client = register_client(cluster)
    session_token = bench.admin_headers["Authorization"].removeprefix("Bearer ")
    warm = mint(cluster.gateway_url, session_token, client, CLIENTS * 5)  # first key made here
    exchange_all(cluster.gateway_url, client, warm)
    kid, jwk = signing_key(cluster)
    exchanges, ceilings, bares, errors = [], [], [], {}
    with multiprocessing.get_context("spawn").Pool(BARE_PROCESSES) as pool:
        for _ in range(ROUNDS):
            codes = mint(cluster.gateway_url, session_token, client, CODES)
            rate, failed = exchange_all(cluster.gateway_url, client, codes)
            exchanges.append(rate)
            for status, count in failed.items():
                errors[status] = errors.get(status, 0) + count
            ceilings.append(trivial_rate(cluster.gateway_url, SECONDS))
            bares.append(bare_rate(pool, kid, jwk, SECONDS))
    ours, ceiling, bare = median(exchanges), median(ceilings), median(bares)
    detail = {
        "rounds": ROUNDS,
        "codes_per_round": CODES,
        "clients": CLIENTS,
        "exchanges_per_s_rounds": [round(x, 1) for x in exchanges],
        "ceiling_get_healthz_per_s": round(ceiling, 1),
        "ratio_to_ceiling": round(ours / ceiling, 3) if ceiling else None,
        "bare_signatures_per_s_rounds": [round(x, 1) for x in bares],
        "errors": errors,
        "mode": "distributed: gunicorn gthread 2 workers per part, RabbitMQ, PostgreSQL",
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    return [
        Result(
            "oidc_code_exchanges_per_s",
            "exchanges/s",
            round(ours, 1),
            f"bare ES256 signing with joserfc, same key, {BARE_PROCESSES} processes",
            round(bare, 1),
            ">= 0.5x bare",
            ours >= 0.5 * bare and not errors,
            detail,
        ),
        Result(
            "oidc_code_exchanges_vs_ceiling",
            "exchanges/s",
            round(ours, 1),
            "GET /healthz of the same gateway, same clients (the server stack's ceiling)",
            round(ceiling, 1),
            "reported (no target)",
            None,
            {"bare_signatures_per_s": round(bare, 1)},
        ),
    ]


# --- where an exchange's time goes (embedded mode, in-process) ------------------------------------


def profile(exchanges: int = 300, top: int = 25) -> str:
    """cProfile of `exchanges` code exchanges in the embedded mode (the codes minted first)."""
    import cProfile
    import io
    import pstats
    import tempfile
    from pathlib import Path

    from portico import demo
    from portico.runtime import Embedded

    operator = "bench-operator-token-0123456789abcdef0123"
    with tempfile.TemporaryDirectory() as folder:
        env = {
            "PORTICO_BUS_PREFIX": f"benchoidc{secrets.token_hex(3)}",
            "PORTICO_OPERATOR_TOKEN": operator,
        }
        embedded = Embedded(Path(folder), env).build().start()
        try:
            assert demo.load_once(embedded, io.StringIO())
            app = embedded.gateway
            api = app.test_client()
            client = api.post(
                "/api/v1/operator/oidc-clients",
                headers={"Authorization": f"Bearer {operator}"},
                json={"name": "Bench", "redirect_uris": [CALLBACK]},
            ).get_json()
            browser = app.test_client()
            signed = browser.post(
                "/api/v1/session",
                json={"email": demo.ADMINS["90293531"]["email"], "password": demo.PASSWORD},
            )
            assert signed.status_code == 201, signed.get_json()
            grants = []
            for _ in range(exchanges):
                verifier, challenge = pkce()
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
                code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
                grants.append((code, verifier))
            basic = base64.b64encode(
                f"{client['client_id']}:{client['client_secret']}".encode()
            ).decode()
            profiler = cProfile.Profile()
            began = time.perf_counter()
            profiler.enable()
            for code, verifier in grants:
                answer = api.post(
                    "/oauth2/token",
                    headers={"Authorization": f"Basic {basic}"},
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": CALLBACK,
                        "code_verifier": verifier,
                    },
                )
                assert answer.status_code == 200, answer.get_data()
            profiler.disable()
            took = time.perf_counter() - began
        finally:
            embedded.stop.set()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return f"{exchanges} exchanges in {took:.2f} s ({exchanges / took:.0f}/s, profiled)\n" + (
        out.getvalue()
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["profile"]:
        print(profile())
    else:
        from bench.common import save, table

        produced = run()
        save(produced)
        print(table(produced))

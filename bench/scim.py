"""SCIM provisioning in the distributed mode: users created through /scim/v2/Bulk beside the same
number through the CSV importer, in one run on one set of processes; and a filtered
`GET /Users?filter=userName eq "…"` on an account of many users.

As deployed: the gateway (`portico serve gateway`, gunicorn), identity's and the importer's APIs
and workers, subscriptions' worker, each part with its own PostgreSQL database, RabbitMQ between
them (notifications is not started: its queue keeps the e-mails' events). Each account has its
own SCIM token, inserted hashed in the gateway's table as the token API does.

- `/Bulk`: BENCH_SCIM_USERS users (10,000) in requests of 1,000 POST /Users operations, one after
  the other as a directory sends them; timed from the first request until every user exists in
  identity's database. Baseline, same run: the same number of users (other addresses, another
  account) through the CSV importer, from the upload until every user exists in identity's
  database. Target: SCIM ≥ 0.5 × the importer's rate.
- the filter: an account of BENCH_SCIM_FILTER_USERS users (50,000, loaded by the importer), then
  BENCH_SCIM_QUERIES (300) `GET /scim/v2/Users?filter=userName eq "<an address>"` one after the
  other, each a different user; p50 and p95 of the client's wall time. Baseline, same run: the
  same lookup as one SQL statement on identity's database (what the filter turns into, minus
  HTTP, the gateway and identity's API). Where the time goes, in the details: the same filter
  on identity's internal API alone, and the gateway's SCIM road alone (GET
  /ServiceProviderConfig: token, rate limit, no identity). Target: p50 ≤ 10 ms.

    .venv/bin/python -m bench scim
    (BENCH_SCIM_USERS, BENCH_SCIM_BULK_SIZE, BENCH_SCIM_FILTER_USERS, BENCH_SCIM_QUERIES)
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa

from bench.common import Result, percentile
from bench.env import fresh_database
from bench.import_ import (
    SERVICE_TOKEN,
    MailSink,
    Proc,
    _healthy,
    environment,
    free_port,
    machine_busy,
    migrate,
    wait_until,
)

USERS = int(os.environ.get("BENCH_SCIM_USERS", "10000"))
BULK_SIZE = int(os.environ.get("BENCH_SCIM_BULK_SIZE", "1000"))
FILTER_USERS = int(os.environ.get("BENCH_SCIM_FILTER_USERS", "50000"))
QUERIES = int(os.environ.get("BENCH_SCIM_QUERIES", "300"))
TIMEOUT = float(os.environ.get("BENCH_SCIM_TIMEOUT", "1800"))
TARGET_RATIO = 0.5
TARGET_P50_MS = 10.0
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PARTS = ("gateway", "identity", "subscriptions", "importer")


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def create_account(http: httpx.Client, number: str) -> str:
    """An account through identity's internal API (as the operator's API does)."""
    answer = http.post("/internal/accounts", json={"number": number, "name": f"Bench {number}"})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def scim_token(gateway_db: str, account_id: str) -> str:
    """A SCIM token of the account, kept hashed in the gateway's table (what the API does)."""
    from gateway.domain.sessions import hash_token, new_token
    from gateway.scim.tokens import TOKEN_PREFIX, scim_tokens

    raw = TOKEN_PREFIX + new_token()
    engine = _engine(gateway_db)
    with engine.begin() as conn:
        conn.execute(
            scim_tokens.insert().values(
                id=str(uuid.uuid4()),
                account_id=account_id,
                name="bench",
                token_hash=hash_token(raw),
                send_activation=False,
                created_by=None,
                created_at=datetime.now(UTC),
            )
        )
    engine.dispose()
    return raw


def users_in(identity: sa.Engine, account_id: str) -> int:
    try:
        with identity.connect() as conn:
            return conn.execute(
                sa.text("SELECT count(*) FROM users WHERE account_id = :a"), {"a": account_id}
            ).scalar_one()
    except sa.exc.OperationalError:  # the shared server is full: ask again at the next poll
        return -1


def bulk_body(start: int, size: int, tag: str) -> dict[str, Any]:
    operations = []
    for n in range(start, start + size):
        email = f"scim.{tag}.{n}@example.com"
        operations.append(
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": f"u{n}",
                "data": {
                    "schemas": [USER_SCHEMA],
                    "userName": email,
                    "name": {"givenName": f"Claire{n}", "familyName": f"Martin{n}"},
                    "emails": [{"value": email, "type": "work", "primary": True}],
                    "preferredLanguage": ("fr-FR", "en-GB")[n % 2],
                },
            }
        )
    return {"schemas": [BULK_REQUEST], "Operations": operations, "failOnErrors": 1}


def through_bulk(scim: httpx.Client, identity: sa.Engine, account_id: str) -> dict[str, Any]:
    """USERS users through /Bulk; seconds until every one exists in identity."""
    tag = uuid.uuid4().hex[:6]
    bodies = [
        bulk_body(start, min(BULK_SIZE, USERS - start), tag) for start in range(0, USERS, BULK_SIZE)
    ]
    started = time.monotonic()
    per_request, failed = [], 0
    for body in bodies:
        sent = time.monotonic()
        answer = scim.post("/Bulk", json=body)
        per_request.append(round(time.monotonic() - sent, 3))
        assert answer.status_code == 200, answer.text[:2000]
        failed += sum(1 for op in answer.json()["Operations"] if op.get("status") != "201")
    answered = time.monotonic() - started
    wait_until(lambda: users_in(identity, account_id) >= USERS, TIMEOUT, interval=0.25)
    return {
        "seconds": time.monotonic() - started,
        "seconds_until_every_bulk_answered": round(answered, 3),
        "seconds_per_request": per_request,
        "operations_failed": failed,
        "users": users_in(identity, account_id),
    }


def csv_file(rows: int, tag: str) -> bytes:
    lines = [
        "Civility;Last name;First name;Email address;Phone;Mobile;Language code;Security level"
    ]
    for n in range(rows):
        lines.append(
            f"{('M', 'MME')[n % 2]};Martin{n};Claire{n};csv.{tag}.{n}@example.com;;;"
            f"{('fr-FR', 'en-GB')[n % 2]};1"
        )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def through_importer(
    importer: httpx.Client, identity: sa.Engine, account_id: str, rows: int
) -> dict[str, Any]:
    """`rows` users through the CSV importer; seconds from the upload until every one exists
    in identity."""
    content = csv_file(rows, uuid.uuid4().hex[:6])
    started = time.monotonic()
    answer = importer.post(
        f"/internal/accounts/{account_id}/imports",
        files={"file": ("bench.csv", content, "text/csv")},
    )
    assert answer.status_code == 202, answer.text
    wait_until(lambda: users_in(identity, account_id) >= rows, TIMEOUT, interval=0.25)
    return {"seconds": time.monotonic() - started, "users": users_in(identity, account_id)}


def _timed(call: Callable[[str], httpx.Response], values: list[str]) -> list[float]:
    """Milliseconds of `call(value)` for each value, one after the other (each answer checked)."""
    spent = []
    for value in values:
        sent = time.perf_counter()
        answer = call(value)
        spent.append((time.perf_counter() - sent) * 1000)
        assert answer.status_code == 200, answer.text
    return spent


def lookups(
    scim: httpx.Client, identity_http: httpx.Client, identity: sa.Engine, account_id: str
) -> dict[str, Any]:
    """QUERIES filtered GETs by userName, each a different user; where the time goes: the same
    filter on identity's internal API (no gateway), the gateway's SCIM road without identity
    (GET /ServiceProviderConfig: the token, the rate limit), and the lookup in SQL."""
    with identity.connect() as conn:
        emails = list(
            conn.execute(
                sa.text("SELECT email FROM users WHERE account_id = :a"), {"a": account_id}
            ).scalars()
        )
    chosen = random.Random(7).sample(emails, min(QUERIES, len(emails)))
    scim.get("/Users", params={"filter": f'userName eq "{chosen[0]}"'})  # warm the connections
    found = sum(
        scim.get("/Users", params={"filter": f'userName eq "{email}"'}).json()["totalResults"]
        for email in chosen[:10]
    )
    http_ms = _timed(
        lambda email: scim.get("/Users", params={"filter": f'userName eq "{email}"'}), chosen
    )
    internal = f"/internal/accounts/{account_id}/scim/users"
    identity_ms = _timed(
        lambda email: identity_http.get(internal, params={"filter": f'userName eq "{email}"'}),
        chosen,
    )
    gateway_ms = _timed(lambda _: scim.get("/ServiceProviderConfig"), chosen)
    sql_ms = []
    with identity.connect() as conn:
        for email in chosen:
            sent = time.perf_counter()
            conn.execute(
                sa.text("SELECT * FROM users WHERE account_id = :a AND email = :e"),
                {"a": account_id, "e": email},
            ).all()
            sql_ms.append((time.perf_counter() - sent) * 1000)
    return {
        "queries": len(chosen),
        "found_of_the_first_10": found,
        "p50_ms": round(percentile(http_ms, 50), 2),
        "p95_ms": round(percentile(http_ms, 95), 2),
        "identity_internal_filter_p50_ms": round(percentile(identity_ms, 50), 2),
        "gateway_scim_road_without_identity_p50_ms": round(percentile(gateway_ms, 50), 2),
        "sql_p50_ms": round(percentile(sql_ms, 50), 3),
        "sql_p95_ms": round(percentile(sql_ms, 95), 3),
    }


def measure() -> dict[str, Any]:
    with (
        fresh_database("sgw") as gateway_db,
        fresh_database("sid") as identity_db,
        fresh_database("ssu") as subscriptions_db,
        fresh_database("sim") as importer_db,
        MailSink() as sink,
    ):
        databases = dict(
            zip(
                PARTS,
                (gateway_db, identity_db, subscriptions_db, importer_db),
                strict=True,
            )
        )
        ports = {name: free_port() for name in ("gateway", "identity", "importer")}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        env = environment(f"bench{uuid.uuid4().hex[:8]}", databases, sink.port, urls)
        env.update(
            PORTICO_GATEWAY_URL=urls["gateway"],
            PORTICO_IMPORTER_URL=urls["importer"],
            PORTICO_SUBSCRIPTIONS_URL="http://127.0.0.1:9",  # not called by /Users and /Bulk
            PORTICO_NOTIFICATIONS_URL="http://127.0.0.1:9",
            PORTICO_RATE_SCIM_PER_TOKEN="1000000/60",  # the bench is one busy directory
        )
        for name in PARTS:
            migrate(name, env)

        def serve(name: str) -> Proc:
            bind = urls[name].removeprefix("http://")
            return Proc(f"{name}-api", ["serve", name, "--bind", bind, "--workers", "2"], env)

        processes = {
            "identity-api": serve("identity"),
            "importer-api": serve("importer"),
            "gateway-api": serve("gateway"),
            **{f"{n}-worker": Proc(f"{n}-worker", ["worker", n], env) for n in PARTS[1:4]},
        }
        service = {"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Portico-Actor": "operator"}
        identity_http = httpx.Client(base_url=urls["identity"], headers=service, timeout=60)
        importer_http = httpx.Client(base_url=urls["importer"], headers=service, timeout=60)
        identity = _engine(identity_db)
        try:
            for name in ("identity-worker", "subscriptions-worker", "importer-worker"):
                processes[name].wait_for_log("worker running")
            for client in (identity_http, importer_http):
                if not wait_until(lambda c=client: _healthy(c), 60):
                    raise RuntimeError("a service did not start: see var/bench-import/*.log")
            gateway_http = httpx.Client(base_url=urls["gateway"], timeout=5)
            if not wait_until(lambda: _healthy(gateway_http), 60):
                raise RuntimeError(processes["gateway-api"].log.read_text()[-3000:])
            gateway_http.close()

            accounts = {
                label: create_account(identity_http, str(90_400_000 + n))
                for n, label in enumerate(("bulk", "csv", "filter"))
            }

            def scim_client(account: str) -> httpx.Client:
                token = scim_token(gateway_db, accounts[account])
                return httpx.Client(
                    base_url=f"{urls['gateway']}/scim/v2",
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/scim+json",
                    },
                    timeout=600,
                )

            busy, cpu = machine_busy(), {n: p.cpu_seconds() for n, p in processes.items()}
            imported = through_importer(importer_http, identity, accounts["csv"], USERS)
            with scim_client("bulk") as scim:
                bulk = through_bulk(scim, identity, accounts["bulk"])
            cpu = {n: round(p.cpu_seconds() - cpu[n], 2) for n, p in processes.items()}
            busy = round(machine_busy() - busy, 2)
            loaded = through_importer(importer_http, identity, accounts["filter"], FILTER_USERS)
            with scim_client("filter") as scim:
                found = lookups(scim, identity_http, identity, accounts["filter"])
        finally:
            for process in processes.values():
                process.stop()
            identity_http.close()
            importer_http.close()
            identity.dispose()
    return {
        "bulk": bulk,
        "importer": imported,
        "filter_account_load": loaded,
        "lookups": found,
        "cpu_seconds_bulk_and_import": cpu,
        "machine_busy_cpu_seconds_bulk_and_import": busy,
    }


def run() -> list[Result]:
    measured = measure()
    bulk, imported, found = measured["bulk"], measured["importer"], measured["lookups"]
    bulk_rate = USERS / bulk["seconds"]
    import_rate = USERS / imported["seconds"]
    detail = {
        "users": USERS,
        "bulk_operations_per_request": BULK_SIZE,
        "filter_account_users": FILTER_USERS,
        **measured,
        "cpus": os.cpu_count(),
        "load_average_after": os.getloadavg(),
    }
    created = bulk["users"] >= USERS and bulk["operations_failed"] == 0
    return [
        Result(
            "scim_bulk_users_per_s",
            "users/s",
            round(bulk_rate, 1),
            "the CSV importer, same number of users, same run",
            round(import_rate, 1),
            f"≥ {TARGET_RATIO} × the importer's rate",
            created and bulk_rate >= TARGET_RATIO * import_rate,
            detail,
        ),
        Result(
            "scim_filter_username_p50",
            "ms",
            found["p50_ms"],
            "the same lookup in SQL on identity's database",
            found["sql_p50_ms"],
            f"≤ {TARGET_P50_MS:g} ms on an account of {FILTER_USERS:,} users",
            found["found_of_the_first_10"] == 10 and found["p50_ms"] <= TARGET_P50_MS,
            detail,
        ),
    ]

"""A part whose database refuses connections answers 503 with Retry-After, never a 500.

Found by the chaos test: while PostgreSQL refused connections (its "too many clients", or the
fault's cut), every part answered 500 "Internal Server Error", as for a bug, and said nothing of
when to try again. Each part here runs on a PostgreSQL address where nothing listens.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
import sqlalchemy as sa

from bus.config import Settings
from bus.db import unavailable
from gateway.adapters.caller_reader import Disconnected
from portico.runtime import build_part, service_app
from tests.e2e.harness import free_port

SERVICE = {"Authorization": "Bearer dev-service-token"}
SOMEONE = str(uuid.uuid4())

# part → a request of its API that reads its database
READS = {
    "identity": ("GET", f"/internal/accounts/{SOMEONE}/users", SERVICE, None),
    "subscriptions": ("GET", f"/internal/users/{SOMEONE}/subscriptions", SERVICE, None),
    "notifications": ("GET", "/internal/deliveries", SERVICE, None),
    "importer": ("GET", f"/internal/accounts/{SOMEONE}/imports/{SOMEONE}", SERVICE, None),
    "gateway": ("GET", "/api/v1/me", {"Authorization": "Bearer some-session-token"}, None),
}


@pytest.fixture(scope="module")
def nowhere() -> str:
    """A PostgreSQL URL where nothing listens: every connection is refused at once."""
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"


def app_of(name: str, database_url: str):
    settings = Settings(
        part=name,
        database_url=database_url,
        service_urls={"identity": f"http://127.0.0.1:{free_port()}"},
    )
    return service_app(build_part(name, settings)).test_client()


@pytest.mark.parametrize("name", list(READS))
def test_a_part_whose_database_refuses_connections_answers_503_with_retry_after(name, nowhere):
    client = app_of(name, nowhere)
    method, path, headers, body = READS[name]
    answer = client.open(path, method=method, headers=headers, json=body)
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    assert int(answer.headers["Retry-After"]) > 0
    problem = answer.get_json()
    assert problem["status"] == 503 and "database" in problem["detail"]


def test_signing_in_while_the_gateways_database_refuses_connections_is_a_503(nowhere):
    answer = app_of("gateway", nowhere).post(
        "/api/v1/session", json={"email": "someone@example.com", "password": "Secret-pass-1"}
    )
    assert answer.status_code == 503 and "Retry-After" in answer.headers


@pytest.mark.parametrize("name", list(READS))
def test_readiness_says_not_ready_while_the_database_refuses_connections(name, nowhere):
    answer = app_of(name, nowhere).get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["checks"]["database"].startswith("unavailable")


def test_a_database_error_wrapped_by_the_request_path_is_still_seen_as_unavailable():
    try:
        try:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        except psycopg.OperationalError as exc:
            raise Disconnected(exc) from exc
    except Disconnected as wrapped:
        assert unavailable(wrapped)
    assert unavailable(sa.exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached"))
    assert not unavailable(ValueError("a bug"))
    assert not unavailable(sa.exc.IntegrityError("INSERT", {}, Exception("duplicate key")))

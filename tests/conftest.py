"""Shared fixtures: unique names per test, and the real broker and database for integration tests.

Integration and end-to-end tests take RabbitMQ and PostgreSQL from PORTICO_TEST_AMQP_URL and
PORTICO_TEST_DATABASE_URL, else from testcontainers when a Docker engine answers, else they are
skipped with a loud reason — except under CI=true, where a missing service is a failure.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


def _missing(what: str, why: str) -> None:
    message = f"{what} is not available: {why}. Set the variable or start the service."
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(f"SKIPPED LOUDLY — {message}")


def _container(kind: str) -> str | None:
    """Start a testcontainer when a Docker engine answers; None otherwise."""
    try:
        import docker

        docker.from_env().ping()
    except Exception:  # noqa: BLE001 - no engine here
        return None
    if kind == "amqp":
        from testcontainers.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer("rabbitmq:3.13").start()
        return f"amqp://guest:guest@{container.get_container_host_ip()}:{container.get_exposed_port(5672)}//"
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer("postgres:16").start()
    return container.get_connection_url()


@pytest.fixture(scope="session")
def amqp_url() -> str:
    url = os.environ.get("PORTICO_TEST_AMQP_URL") or _container("amqp")
    if not url:
        _missing("RabbitMQ", "PORTICO_TEST_AMQP_URL is unset and no Docker engine answers")
    elif not _reachable(url, 5672):
        _missing("RabbitMQ", f"nothing answers at {url}")
    return url  # type: ignore[return-value]


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = os.environ.get("PORTICO_TEST_DATABASE_URL") or _container("pg")
    if not url:
        _missing("PostgreSQL", "PORTICO_TEST_DATABASE_URL is unset and no Docker engine answers")
    elif not _reachable(url, 5432):
        _missing("PostgreSQL", f"nothing answers at {url}")
    return url  # type: ignore[return-value]


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    import sqlalchemy as sa

    from bus.db import make_engine

    name = f"portico_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(pg_admin_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def prefix() -> str:
    """A bus prefix (exchange and queue names) of this test alone."""
    return f"t{uuid.uuid4().hex[:10]}"

"""The identity service on PostgreSQL and RabbitMQ: its migration, sign-in locks, and a 500-row batch."""

from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa

from bus.clock import FakeClock
from bus.config import Settings
from bus.envelope import Envelope
from services.identity.adapters.orm import metadata
from services.identity.bootstrap import build
from services.identity.domain.hashing import Argon2Hasher
from services.identity.entrypoints.api import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
def part(pg_url, amqp_url, prefix):
    settings = Settings(part="identity", database_url=pg_url, broker_url=amqp_url, bus_prefix=prefix)
    instance = build(settings)
    instance.clock = FakeClock()
    instance.hasher = Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1)
    instance.migrate()
    yield instance
    instance.engine.dispose()


@pytest.fixture
def client(part):
    client = create_app(part).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {part.settings.service_token}"
    return client


def test_the_migration_matches_the_tables(part):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with part.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_sign_in_locks_and_unlocks_on_postgres(part, client):
    account = client.post("/internal/accounts", json={"number": "42", "name": "PG"}).json
    user = client.post(f"/internal/accounts/{account['id']}/users", json={
        "email": "pg@example.com", "title": "M", "last_name": "Post", "first_name": "Gres",
        "language": "en-US", "password_level": 2}).json
    with part.engine.connect() as conn:
        body = conn.execute(sa.text("SELECT body FROM bus_outbox WHERE type = 'identity.link.issued'")).scalar_one()
    token = Envelope.from_body(body).data["link_url"].rsplit("/", 1)[1]
    activated = client.post(f"/internal/activations/{token}", json={
        "title": "M", "last_name": "Post", "first_name": "Gres", "language": "en-US",
        "password": "Blue-Kettle-Sings-7"})
    assert activated.status_code == 201, activated.json
    attempts = [client.post("/internal/sign-in", json={"email": "pg@example.com", "password": "x"})
                for _ in range(5)]
    assert [a.status_code for a in attempts] == [401, 401, 401, 401, 423]
    unlock = client.post(f"/internal/accounts/{account['id']}/users/{user['id']}/unlock")
    assert unlock.status_code == 204
    right = client.post("/internal/sign-in", json={"email": "PG@example.com", "password": "Blue-Kettle-Sings-7"})
    assert right.status_code == 200


def test_a_batch_of_500_rows_commits_in_well_under_a_second(part, client):
    account = client.post("/internal/accounts", json={"number": "43", "name": "Bulk"}).json
    rows = [{"line": line, "title": "MME", "last_name": f"Name{line}", "first_name": "Bulk",
             "email": f"bulk{line}@example.com", "office_phone": "+33 1 23 45 67 89", "mobile_phone": None,
             "language": "fr-FR", "password_level": 2} for line in range(2, 502)]
    command = Envelope(type="identity.create_users", producer="importer", data={
        "account_id": account["id"], "import_job_id": str(uuid.uuid4()), "batch": 1, "rows": rows})
    processor = part.processor()
    started = time.perf_counter()
    outcome = processor.process(command.to_json())
    elapsed = time.perf_counter() - started
    assert outcome.kind == "handled", outcome
    print(f"500 rows: {elapsed:.3f}s")
    assert elapsed < 1.0, f"500 rows took {elapsed:.3f}s"
    with part.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() == 500
        assert conn.execute(sa.text("SELECT count(*) FROM tokens")).scalar_one() == 500
    # the same file again creates nobody
    again = Envelope(type="identity.create_users", producer="importer", data={**command.data, "batch": 2})
    assert processor.process(again.to_json()).kind == "handled"
    with part.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() == 500
    # and the relay publishes the 1,000 events and 2 answers to RabbitMQ with confirms
    part.declare()
    assert part.relay().drain() == 1 + 1000 + 2  # the account, 500 users and links, two answers
    assert part.outbox.pending() == 0

"""A worker killed in the middle of an import: another worker resumes it, nobody is created twice.

Real RabbitMQ and PostgreSQL. The importer's workers are processes of their own (the first one
dies with os._exit after recording a few batches); identity is a fake consumer in this process
that records every (job, batch) and every e-mail it creates, and answers each batch.
"""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bus.config import Settings
from bus.db import bus_tables
from bus.envelope import Envelope
from bus.part import Part
from bus.uow import UnitOfWork
from services.importer.adapters import orm
from services.importer.bootstrap import build
from services.importer.entrypoints.api import create_app
from tests.waiting_kit import DEADLINE, eventually

pytestmark = pytest.mark.integration

ROWS, BATCH = 1000, 100
SERVICE_TOKEN = secrets.token_urlsafe(32)
SERVICE_HEADERS = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
WORKER_ENV = {
    "PORTICO_IMPORT_BATCH_SIZE": str(BATCH),
    "PORTICO_IMPORT_LEASE_SECONDS": "2",
    "PORTICO_IMPORT_POLL_SECONDS": "0.2",
    # `portico worker importer` refuses to start without a strong service token and identity's
    # address (the fake identity answers over the bus; no dry run asks its HTTP API here)
    "PORTICO_SERVICE_TOKEN": SERVICE_TOKEN,
    "PORTICO_IDENTITY_URL": "http://127.0.0.1:9",
}
# The first worker: a normal importer worker that dies (os._exit) when it is about to record
# its fourth batch, after the first three are committed (and perhaps not yet relayed).
DOOMED_WORKER = """
import os, threading
from bus.config import Settings
from portico.runtime import build_part, start_worker
from services.importer.service_layer import runner

recorded = []
original = runner.record_batch

def record(uow, claim, chunk, taken):
    if len(recorded) == 3:
        print("dying", flush=True)
        os._exit(17)
    original(uow, claim, chunk, taken)
    recorded.append(chunk.batch)

runner.record_batch = record
part = build_part("importer", Settings.from_env("importer"))
stop = threading.Event()
start_worker(part, stop)
print("ready", flush=True)
stop.wait()
"""


class FakeIdentity:
    """identity.create_users consumer: records what it is asked, creates each address once."""

    def __init__(self, database_url: str, amqp_url: str, prefix: str) -> None:
        metadata = sa.MetaData()
        bus_tables(metadata)
        settings = Settings(
            part="identity", database_url=database_url, broker_url=amqp_url, bus_prefix=prefix
        )
        self.part = Part(
            settings, metadata, {"identity.create_users": self.create_users}, Path("-")
        )
        metadata.create_all(self.part.engine)
        self.batches: Counter[tuple[str, int]] = Counter()
        self.created: Counter[str] = Counter()
        self.lock = threading.Lock()

    def create_users(self, uow: UnitOfWork, envelope: Envelope) -> None:
        data = envelope.data
        created, rejected = [], []
        with self.lock:
            self.batches[(data["import_job_id"], data["batch"])] += 1
            for row in data["rows"]:
                if self.created[row["email"]]:
                    rejected.append(
                        {
                            "line": row["line"],
                            "field": "email",
                            "message": "This address is already used in the portal.",
                        }
                    )
                else:
                    created.append(
                        {"line": row["line"], "user_id": f"u{row['line']}", "email": row["email"]}
                    )
                self.created[row["email"]] += 1
        uow.publish(
            "identity.users.batch_processed",
            {
                "account_id": data["account_id"],
                "import_job_id": data["import_job_id"],
                "batch": data["batch"],
                "created": created,
                "rejected": rejected,
            },
        )


def start_worker(code: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    out = log.open("w")
    return subprocess.Popen(
        [sys.executable, *code],
        cwd=os.getcwd(),
        env={**env, "PYTHONPATH": os.getcwd()},
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_the_migration_gives_the_tables_of_the_code(pg_url) -> None:
    part = build(Settings(part="importer", database_url=pg_url))
    part.migrate()
    with part.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), orm.metadata) == []
    part.engine.dispose()


def test_a_killed_worker_s_job_is_resumed_by_another(pg_url, amqp_url, prefix, tmp_path) -> None:
    env = {
        **os.environ,
        **WORKER_ENV,
        "PORTICO_IMPORTER_DATABASE_URL": pg_url,
        "PORTICO_BROKER_URL": amqp_url,
        "PORTICO_BUS_PREFIX": prefix,
    }
    part = build(Settings.from_env("importer", env))
    part.migrate()
    identity = FakeIdentity(f"sqlite:///{tmp_path}/identity.db", amqp_url, prefix)
    stop = threading.Event()
    identity.part.start_background(stop)
    assert identity.part.wait_ready(DEADLINE)
    doomed = start_worker(["-c", DOOMED_WORKER], env, tmp_path / "doomed.log")
    survivor = None
    try:
        eventually(
            lambda: "ready" in (tmp_path / "doomed.log").read_text(), what="the first worker"
        )
        content = "".join(
            f"M;Martin{n};Paul{n};paul.martin{n}@example.com;;;fr-FR;2\n" for n in range(ROWS)
        ).encode()
        api = create_app(part).test_client()
        answer = api.post(
            "/internal/accounts/acc-1/imports",
            data={"file": (io.BytesIO(content), "team.csv")},
            content_type="multipart/form-data",
            headers={**SERVICE_HEADERS, "X-Portico-Actor": "admin-1"},
        )
        assert answer.status_code == 202
        job_id = answer.get_json()["id"]

        assert doomed.wait(DEADLINE) == 17, (tmp_path / "doomed.log").read_text()
        with part.engine.connect() as conn:
            job = conn.execute(sa.select(orm.import_jobs)).one()
            recorded = conn.execute(
                sa.select(sa.func.count()).select_from(orm.import_batches)
            ).scalar()
        assert job.status == "running" and job.lease_owner is not None and recorded == 3

        survivor = start_worker(
            ["-m", "portico.cli", "worker", "importer"], env, tmp_path / "survivor.log"
        )

        def finished():
            body = api.get(
                f"/internal/accounts/acc-1/imports/{job_id}", headers=SERVICE_HEADERS
            ).get_json()
            return body if body["status"] in ("done", "failed") else None

        job = eventually(finished, what="the job to end")
        assert job["status"] == "done", job
        assert (job["rows"], job["processed"], job["created"], job["rejected"]) == (
            ROWS,
            ROWS,
            ROWS,
            0,
        )
        assert sorted(identity.batches) == [(job_id, n) for n in range(1, ROWS // BATCH + 1)]
        assert set(identity.batches.values()) == {1}, "a batch was sent twice"
        assert len(identity.created) == ROWS and set(identity.created.values()) == {1}
        with part.engine.connect() as conn:
            job_row = conn.execute(sa.select(orm.import_jobs)).one()
        assert job_row.attempts == 2
    finally:
        for process in (doomed, survivor):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(20)
        stop.set()
        for thread in identity.part.threads:  # its consumer and relay end before their engine
            thread.join(DEADLINE)
        identity.part.engine.dispose()
        part.engine.dispose()

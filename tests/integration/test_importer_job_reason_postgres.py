"""A failed import's reason on PostgreSQL: migration 0003 adds reason_code, reason_params and
reason_messages to a table that already holds failed jobs; an old reason still reads (in
English, code import.failed), a new one keeps its JSON params and texts and reads in the
caller's language."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import services.importer
from bus.db import make_engine, migrate
from bus.i18n import _l
from services.importer.adapters import repository as repo
from services.importer.domain.model import reason_view
from services.importer.service_layer.anomalies import reason_in_every_language

pytestmark = pytest.mark.postgres

MIGRATIONS = Path(services.importer.__file__).resolve().parent / "migrations"
NOW = datetime(2027, 5, 3, 9, 0, tzinfo=UTC)
OLD = "Reading the file was interrupted 3 times, so the import was stopped."


def insert_job(conn, job_id: str, reason: str | None) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO import_jobs (id, account_id, filename, size, dry_run, status, rows,"
            " batch_size, dispatched, reason, created_at, touched_at) VALUES (:id, 'acc-1',"
            " 'users.csv', 10, false, 'failed', 2, 500, true, :reason, :now, :now)"
        ),
        {"id": job_id, "reason": reason, "now": NOW},
    )


def test_an_old_reason_survives_the_migration_and_a_new_one_keeps_every_language(pg_url):
    engine = make_engine(pg_url)
    try:
        migrate(engine, MIGRATIONS, "0002")
        with engine.begin() as conn:  # a failed job as the importer wrote it before
            insert_job(conn, "job-old", OLD)
        migrate(engine, MIGRATIONS)

        reason = _l(
            "Reading the file was interrupted {attempts} times, so the import was stopped."
            " Users created before stay; check the report, then import the missing rows"
            " again or contact support.",
            code="import.interrupted",
            attempts=3,
        )
        with engine.begin() as conn:
            insert_job(conn, "job-new", None)
        with Session(engine) as session, session.begin():
            repo.update_job(session, "job-new", **reason_in_every_language(reason))
        with Session(engine) as session:
            old = repo.get_job(session, "job-old")
            new = repo.get_job(session, "job-new")

        assert reason_view(old, "fr") == {
            "reason": OLD,
            "reason_code": "import.failed",
            "reason_params": {},
        }
        french = reason_view(new, "fr")
        assert (french["reason_code"], french["reason_params"]) == (
            "import.interrupted",
            {"attempts": 3},
        )
        assert french["reason"].startswith("La lecture du fichier a été interrompue 3 fois")
        assert reason_view(new, "en")["reason"] == str(reason)
    finally:
        engine.dispose()

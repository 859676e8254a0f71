"""The importer's anomalies on PostgreSQL: migration 0002 adds code, params and messages to a
table that already holds anomalies; the old rows still read (in English, code import.anomaly),
new ones keep their JSON params and texts and read in the caller's language."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import services.importer
from bus.db import make_engine, migrate
from services.importer.adapters import repository as repo
from services.importer.domain import Anomaly

pytestmark = pytest.mark.postgres

MIGRATIONS = Path(services.importer.__file__).resolve().parent / "migrations"
NOW = datetime(2027, 5, 3, 9, 0, tzinfo=UTC)


def test_old_anomalies_survive_the_migration_and_new_ones_keep_every_language(pg_url):
    engine = make_engine(pg_url)
    try:
        migrate(engine, MIGRATIONS, "0001")
        with engine.begin() as conn:  # a job and an anomaly as the importer wrote them before
            conn.execute(
                sa.text(
                    "INSERT INTO import_jobs (id, account_id, filename, size, dry_run, status,"
                    " rows, batch_size, dispatched, created_at, touched_at) VALUES ('job-1',"
                    " 'acc-1', 'users.csv', 10, false, 'done', 2, 500, true, :now, :now)"
                ),
                {"now": NOW},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO import_anomalies (job_id, line, rank, field, message)"
                    " VALUES ('job-1', 2, 1, 'last_name', 'The last name is missing.')"
                )
            )
        migrate(engine, MIGRATIONS)

        with Session(engine) as session, session.begin():
            repo.add_anomalies(
                session,
                "job-1",
                [
                    Anomaly(
                        3,
                        "email",
                        "This address is already used in the portal.",
                        code="import.address_used",
                        params={"first": 2, "label": "e-mail address"},
                        messages={
                            "en": "This address is already used in the portal.",
                            "fr": "Cette adresse est déjà utilisée dans le portail.",
                        },
                    )
                ],
            )
        with Session(engine) as session:
            old, new = repo.anomalies(session, "job-1")

        assert old.view("fr") == {
            "line": 2,
            "field": "last_name",
            "message": "The last name is missing.",
            "code": "import.anomaly",
            "params": {},
        }
        assert new.view("fr") == {
            "line": 3,
            "field": "email",
            "message": "Cette adresse est déjà utilisée dans le portail.",
            "code": "import.address_used",
            "params": {"first": 2, "label": "e-mail address"},
        }
        assert new.text("en") == "This address is already used in the portal."
    finally:
        engine.dispose()

"""Factories for the importer's service tests: the part on SQLite and memory://, its API with
the service token, a runner driven step by step, and a fake identity that answers the
identity.create_users commands found in the part's outbox.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bus.clock import FakeClock
from bus.config import Settings
from bus.envelope import Envelope
from services.importer.adapters.orm import outbox
from services.importer.bootstrap import ImporterPart, build
from services.importer.entrypoints.api import create_app
from services.importer.service_layer.runner import run_next_job

CORPUS = Path(__file__).resolve().parents[2] / "data" / "import"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
START = datetime(2027, 5, 3, 9, 0, tzinfo=UTC)
ADMIN = "admin-7f3a"


def new_id() -> str:
    return str(uuid.uuid4())


def user_lines(count: int, start: int = 0, domain: str = "example.com") -> list[str]:
    return [
        f"{'MME' if n % 2 else 'M'};Martin{n};Claire{n};claire.martin{n}@{domain};;;fr-FR;2"
        for n in range(start, start + count)
    ]


def csv_bytes(lines: Iterable[str]) -> bytes:
    return ("".join(line + "\n" for line in lines)).encode("utf-8")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make_part(tmp_path, prefix, clock) -> Iterable[Callable[..., ImporterPart]]:
    """make_part(**settings) -> the importer part; PORTICO_IMPORT_* settings by keyword."""
    made: list[ImporterPart] = []

    def make(name: str = "importer", **extra: Any) -> ImporterPart:
        settings = Settings(
            part="importer",
            database_url=f"sqlite:///{tmp_path}/{name}.db",
            broker_url="memory://",
            bus_prefix=prefix,
            extra={key: str(value) for key, value in extra.items()},
        )
        instance = build(settings)
        instance.migrate()
        instance.clock = clock
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.engine.dispose()


@pytest.fixture
def part(make_part) -> ImporterPart:
    return make_part()


class Api:
    """The importer's internal API with the service token, as the gateway calls it."""

    def __init__(self, part: ImporterPart) -> None:
        self.part = part
        self.client = create_app(part).test_client()

    def headers(self, actor: str | None = ADMIN) -> dict[str, str]:
        headers = {"Authorization": "Bearer dev-service-token"}
        if actor:
            headers["X-Portico-Actor"] = actor
        return headers

    def upload(
        self,
        account_id: str,
        content: bytes,
        filename: str = "users.csv",
        dry_run: bool | str | None = None,
        actor: str | None = ADMIN,
    ) -> Any:
        query = {} if dry_run is None else {"dry_run": str(dry_run).lower()}
        return self.client.post(
            f"/internal/accounts/{account_id}/imports",
            query_string=query,
            data={"file": (io.BytesIO(content), filename)},
            content_type="multipart/form-data",
            headers=self.headers(actor),
        )

    def job(self, account_id: str, job_id: str) -> Any:
        return self.client.get(
            f"/internal/accounts/{account_id}/imports/{job_id}", headers=self.headers()
        )

    def report(self, account_id: str, job_id: str) -> Any:
        return self.client.get(
            f"/internal/accounts/{account_id}/imports/{job_id}/report.csv",
            headers=self.headers(),
        )


@pytest.fixture
def api(part) -> Api:
    return Api(part)


@pytest.fixture
def account() -> str:
    return new_id()


def run_jobs(part: ImporterPart, owner: str = "runner-test") -> int:
    """Run the job runner until no job is left to claim; how many jobs it worked on."""
    count = 0
    while run_next_job(part, owner):
        count += 1
    return count


def outbox_messages(part: ImporterPart, type_: str) -> list[dict[str, Any]]:
    with part.engine.connect() as conn:
        bodies = conn.execute(
            sa.select(outbox.c.body).where(outbox.c.type == type_).order_by(outbox.c.seq)
        ).scalars()
        return [json.loads(body) for body in bodies]


class FakeIdentity:
    """Answers the part's identity.create_users commands like identity would, by e-mail.

    Addresses in `existing` (or created by an earlier command) are refused as taken;
    `refuse` maps a line to a (field, message) refusal, as identity answered before anomalies
    had languages, or to a whole entry (field, message, code, params, messages) as it answers
    now. Each command is answered once.
    """

    def __init__(self, part: ImporterPart) -> None:
        self.part = part
        self.existing: set[str] = set()
        self.refuse: dict[int, tuple[str, str] | dict[str, Any]] = {}
        self.answered: set[str] = set()
        self.commands: list[dict[str, Any]] = []

    def pending(self) -> list[dict[str, Any]]:
        return [
            m
            for m in outbox_messages(self.part, "identity.create_users")
            if m["id"] not in self.answered
        ]

    def answer(self, limit: int | None = None) -> int:
        """Answer the commands not yet answered (at most `limit`); how many were answered."""
        commands = self.pending()[:limit]
        for command in commands:
            self.answered.add(command["id"])
            self.commands.append(command)
            envelope = Envelope.from_body(command)
            outcome = self.part.processor().process(self.reply(envelope).to_json())
            assert outcome.kind == "handled", outcome
        return len(commands)

    def reply(self, command: Envelope) -> Envelope:
        created, rejected = [], []
        for row in command.data["rows"]:
            if row["line"] in self.refuse:
                refusal = self.refuse[row["line"]]
                if isinstance(refusal, dict):  # a whole entry: code, params, messages
                    rejected.append({"line": row["line"], **refusal})
                    continue
                field, message = refusal
                rejected.append({"line": row["line"], "field": field, "message": message})
            elif row["email"] in self.existing:
                rejected.append(
                    {
                        "line": row["line"],
                        "field": "email",
                        "message": "This address is already used in the portal.",
                    }
                )
            else:
                self.existing.add(row["email"])
                created.append(
                    {
                        "user_id": new_id(),
                        "email": row["email"],
                        "title": "MME",
                        "last_name": "Martin",
                        "first_name": "Claire",
                        "language": "fr-FR",
                        "password_level": 2,
                        "status": "pending_activation",
                        "import_line": row["line"],
                        "created_at": "2026-12-04T21:00:00Z",
                    }
                )
        data = {
            "account_id": command.data["account_id"],
            "source": "import",
            "import_job_id": command.data["import_job_id"],
            "batch": command.data["batch"],
            "users": created,
            "rejected": rejected,
        }
        return command.caused("identity.users.created", data, "identity")


@pytest.fixture
def identity(part) -> FakeIdentity:
    return FakeIdentity(part)


class FakeIdentityClient:
    """Stands in for identity's HTTP client in dry runs: POST /internal/emails/taken."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.taken = set(taken)
        self.calls: list[list[str]] = []
        self.down = False

    def post(self, path: str, json: dict[str, Any]) -> dict[str, Any]:
        assert path == "/internal/emails/taken"
        if self.down:
            from bus.http_client import ServiceUnavailable

            raise ServiceUnavailable("identity", "connection refused")
        emails = json["emails"]
        assert len(emails) <= 1000, "identity answers at most 1000 addresses at a time"
        self.calls.append(list(emails))
        return {"taken": [email for email in emails if email in self.taken]}

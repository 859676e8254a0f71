"""The identity service on PostgreSQL and RabbitMQ: its migration, sign-in locks, a 500-row batch, the dashboard."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bus.envelope import Envelope
from services.identity.adapters.orm import metadata
from tests.integration.identity_kit import identity_part, service_client

pytestmark = pytest.mark.integration


@pytest.fixture
def part(pg_url, amqp_url, prefix):
    yield from identity_part(pg_url, amqp_url, prefix)


@pytest.fixture
def client(part):
    return service_client(part)


def test_the_migration_matches_the_tables(part):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with part.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_sign_in_locks_and_unlocks_on_postgres(part, client):
    account = client.post("/internal/accounts", json={"number": "42", "name": "PG"}).json
    user = client.post(
        f"/internal/accounts/{account['id']}/users",
        json={
            "email": "pg@example.com",
            "title": "M",
            "last_name": "Post",
            "first_name": "Gres",
            "language": "en-US",
            "password_level": 2,
        },
    ).json
    with part.engine.connect() as conn:
        body = conn.execute(
            sa.text("SELECT body FROM bus_outbox WHERE type = 'identity.link.issued'")
        ).scalar_one()
    token = Envelope.from_body(body).data["link_url"].rsplit("/", 1)[1]
    activated = client.post(
        f"/internal/activations/{token}",
        json={
            "title": "M",
            "last_name": "Post",
            "first_name": "Gres",
            "language": "en-US",
            "password": "Blue-Kettle-Sings-7",
        },
    )
    assert activated.status_code == 201, activated.json
    attempts = [
        client.post("/internal/sign-in", json={"email": "pg@example.com", "password": "x"})
        for _ in range(5)
    ]
    assert [a.status_code for a in attempts] == [401, 401, 401, 401, 423]
    unlock = client.post(f"/internal/accounts/{account['id']}/users/{user['id']}/unlock")
    assert unlock.status_code == 204
    right = client.post(
        "/internal/sign-in", json={"email": "PG@example.com", "password": "Blue-Kettle-Sings-7"}
    )
    assert right.status_code == 200


def test_a_batch_of_500_rows_creates_them_once_and_relays_their_events(part, client):
    account = client.post("/internal/accounts", json={"number": "43", "name": "Bulk"}).json
    rows = [
        {
            "line": line,
            "title": "MME",
            "last_name": f"Name{line}",
            "first_name": "Bulk",
            "email": f"bulk{line}@example.com",
            "office_phone": "+33 1 23 45 67 89",
            "mobile_phone": None,
            "language": "fr-FR",
            "password_level": 2,
        }
        for line in range(2, 502)
    ]
    command = Envelope(
        type="identity.create_users",
        producer="importer",
        data={
            "account_id": account["id"],
            "import_job_id": str(uuid.uuid4()),
            "batch": 1,
            "rows": rows,
        },
    )
    processor = part.processor()
    outcome = processor.process(command.to_json())  # its speed is measured in bench/import_.py
    assert outcome.kind == "handled", outcome
    with part.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() == 500
        assert conn.execute(sa.text("SELECT count(*) FROM tokens")).scalar_one() == 500
    # the same file again creates nobody
    again = Envelope(
        type="identity.create_users", producer="importer", data={**command.data, "batch": 2}
    )
    assert processor.process(again.to_json()).kind == "handled"
    with part.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() == 500
    # the importer's dry run asks the same question of the same query
    asked = [
        "BULK7@example.com",
        "bulk501@example.com",
        "free@example.com",
        "junk",
        "bulk7@example.com",
    ]
    answer = client.post("/internal/emails/taken", json={"emails": asked})
    assert answer.status_code == 200, answer.json
    assert sorted(answer.json["taken"]) == [
        "BULK7@example.com",
        "bulk501@example.com",
        "bulk7@example.com",
    ]
    # and the relay publishes the batch events to RabbitMQ with confirms: the account's, then for
    # the first command one identity.users.created and one identity.links.issued (500 each, the
    # bound), and for the second (every line already known) one identity.users.created
    part.declare()
    assert part.relay().drain() == 1 + 2 + 1
    assert part.outbox.pending() == 0


def test_imported_rows_written_with_copy_read_back_like_any_other(part, client):
    """On PostgreSQL the import's users, tokens and audit rows go in with COPY: every column as
    an INSERT would write it, and the activation link works."""
    account = client.post("/internal/accounts", json={"number": "44", "name": "Copy"}).json
    job = str(uuid.uuid4())
    rows = [
        {
            "line": 2,
            "title": "MLE",
            "last_name": "Dupré",
            "first_name": "Zoé",
            "email": "zoe@example.com",
            "office_phone": "01 23 45 67 89",
            "mobile_phone": None,
            "language": "fr-FR",
            "password_level": 3,
        },
        {
            "line": 3,
            "title": "M",
            "last_name": "O'Neil",
            "first_name": "Seán\\Jr",
            "email": "neil@example.com",
            "office_phone": None,
            "mobile_phone": "+33 6 12 34 56 78",
            "language": "en-GB",
            "password_level": 1,
        },
    ]
    command = Envelope(
        type="identity.create_users",
        producer="importer",
        data={
            "account_id": account["id"],
            "import_job_id": job,
            "batch": 1,
            "requested_by": "operator",
            "rows": rows,
        },
    )
    assert part.processor().process(command.to_json()).kind == "handled"
    listed = client.get(f"/internal/accounts/{account['id']}/users").json
    users = {u["email"]: u for u in listed["items"]}
    assert users["zoe@example.com"]["last_name"] == "Dupré"
    assert users["zoe@example.com"]["office_phone"] == "+33123456789"
    assert users["zoe@example.com"]["password_level"] == 3
    assert users["zoe@example.com"]["status"] == "pending_activation"
    assert users["zoe@example.com"]["source"] == "import"
    assert users["neil@example.com"]["first_name"] == "Seán\\Jr"
    assert users["neil@example.com"]["mobile_phone"] == "+33612345678"
    with part.engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT import_job_id, import_line, created_by, password_hash, name_key FROM users "
                "WHERE email = 'zoe@example.com'"
            )
        ).one()
        audit = conn.execute(
            sa.text(
                "SELECT action, source, actor, target, detail, id FROM audit_log WHERE action = 'user_created' "
                "ORDER BY id"
            )
        ).all()
        token = conn.execute(
            sa.text(
                "SELECT purpose, used_at, superseded, expires_at > tokens.created_at FROM tokens "
                "JOIN users ON users.id = tokens.user_id WHERE email = 'zoe@example.com'"
            )
        ).one()
        links = [
            link
            for b in conn.execute(
                sa.text(
                    "SELECT body FROM bus_outbox WHERE type = 'identity.links.issued' ORDER BY seq"
                )
            ).scalars()
            for link in Envelope.from_body(b).data["links"]
        ]
    assert tuple(stored) == (job, 2, "operator", None, stored.name_key) and stored.name_key
    assert [(a.action, a.source, a.actor, a.target) for a in audit] == [
        ("user_created", "import", "operator", "zoe@example.com"),
        ("user_created", "import", "operator", "neil@example.com"),
    ]
    assert '"line": 2' in audit[0].detail and audit[0].id < audit[1].id
    assert tuple(token) == ("activation", None, False, True)
    link = next(data for data in links if data["recipient"] == "zoe@example.com")
    activated = client.post(
        f"/internal/activations/{link['link_url'].rsplit('/', 1)[1]}",
        json={
            "title": "MLE",
            "last_name": "Dupré",
            "first_name": "Zoé",
            "language": "fr-FR",
            "password": "Blue-Kettle-Sings-7",
        },
    )
    assert activated.status_code == 201, activated.json


def _grant_admin(part, account_id, user_id):
    data = {
        "subscription_id": str(uuid.uuid4()),
        "account_id": account_id,
        "user_id": user_id,
        "service_id": str(uuid.uuid4()),
        "service_code": f"user_admin:{account_id}",
        "service_title": "User Management - Administration",
        "family": "management",
        "status": "accepted",
        "administers_account_id": account_id,
    }
    event = Envelope(type="subscriptions.subscription.accepted", producer="test", data=data)
    assert part.processor().process(event.to_json()).kind == "handled"


def _import(part, account_id, lines):
    rows = [
        {
            "line": line,
            "title": "M",
            "last_name": f"Name{line:03}",
            "first_name": "Pg",
            "email": f"{account_id[:8]}.{line}@example.com",
            "language": "en-US",
            "password_level": 2,
        }
        for line in lines
    ]
    command = Envelope(
        type="identity.create_users",
        producer="importer",
        data={
            "account_id": account_id,
            "import_job_id": str(uuid.uuid4()),
            "batch": 1,
            "rows": rows,
        },
    )
    assert part.processor().process(command.to_json()).kind == "handled"
    with part.engine.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT id FROM users WHERE account_id = :a ORDER BY name_key"),
                {"a": account_id},
            ).scalars()
        )


def test_the_dashboard_answers_what_the_three_panel_endpoints_answer_on_postgres(part, client):
    account = client.post("/internal/accounts", json={"number": "45", "name": "Panels"}).json
    other = client.post("/internal/accounts", json={"number": "46", "name": "Other"}).json
    ids = _import(part, account["id"], range(2, 207))
    _import(part, other["id"], range(2, 5))
    part.clock.advance(timedelta(days=2))
    for last_name in ("Without", "Email"):
        client.post(
            f"/internal/accounts/{account['id']}/users",
            json={
                "email": None,
                "title": "M",
                "last_name": last_name,
                "first_name": "Pg",
                "language": "en-US",
                "password_level": 2,
            },
        )
    stranger = _import(part, other["id"], range(5, 6))[-1]
    for user_id in ids[:201]:
        _grant_admin(part, account["id"], user_id)
    _grant_admin(part, other["id"], stranger)
    now = part.clock.now()
    with part.engine.begin() as conn:  # one user locked, one whose lock is over, one active
        conn.execute(
            sa.text("UPDATE users SET status = 'locked', locked_until = :t WHERE id = :u"),
            [
                {"t": now + timedelta(minutes=5), "u": ids[0]},
                {"t": now - timedelta(minutes=5), "u": ids[1]},
            ],
        )
        conn.execute(sa.text("UPDATE users SET status = 'active' WHERE id = :u"), {"u": ids[2]})
    member = ids[-1]
    with part.engine.begin() as conn:  # a user whose audit trail is empty
        conn.execute(sa.text("DELETE FROM audit_log WHERE user_id = :u"), {"u": member})
    since = {"since": "2025-01-02T00:00:00Z"}

    audits = client.get(f"/internal/users/{ids[0]}/audits", query_string={"per_page": 3}).json
    admins = client.get(
        f"/internal/accounts/{account['id']}/administrators", query_string={"per_page": 200}
    ).json
    summary = client.get(
        f"/internal/accounts/{account['id']}/users/summary", query_string=since
    ).json
    assert summary == {
        "active": 2,
        "pending_activation": 202,
        "without_email": 2,
        "locked": 1,
        "new_since_last_sign_in": 2,
        "administrators": 201,
        "groups": 0,
    }
    assert admins["total"] == 201 and len(admins["items"]) == 200 and audits["total"] == 1

    statements = []
    sa.event.listen(part.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    panels = client.get(f"/internal/users/{ids[0]}/dashboard", query_string={**since, "users": "1"})
    assert panels.status_code == 200, panels.json
    assert len(statements) == 3, "the user with the summary, the audits, the administrators"
    assert panels.json == {"last_audits": audits, "administrators": admins, "users": summary}
    member_page = client.get(f"/internal/users/{member}/dashboard").json
    assert member_page["administrators"] == admins
    assert member_page["last_audits"] == {"items": [], "page": 1, "per_page": 3, "total": 0}
    assert (
        client.get(
            "/internal/users/nobody/dashboard", query_string={**since, "users": "1"}
        ).status_code
        == 404
    )

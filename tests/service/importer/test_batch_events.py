"""The importer takes every row's fate from identity.users.created (its users and rejected
lines); users created by another bulk path concern no job; the older answer is still read."""

from __future__ import annotations

from bus.envelope import Envelope
from tests.service.importer.conftest import new_id


def test_users_created_by_another_bulk_path_concern_no_job(part, account):
    event = Envelope(
        type="identity.users.created",
        producer="identity",
        data={"account_id": account, "source": "admin", "users": [], "rejected": []},
    )
    assert part.processor().process(event.to_json()).kind == "handled"


def test_an_answer_for_an_unknown_batch_is_dead_lettered_with_the_reason(part, account):
    event = Envelope(
        type="identity.users.created",
        producer="identity",
        data={
            "account_id": account,
            "source": "import",
            "import_job_id": new_id(),
            "batch": 1,
            "users": [],
            "rejected": [],
        },
    )
    outcome = part.processor().process(event.to_json())
    assert outcome.kind == "dead" and "no batch 1" in outcome.reason


def test_a_batch_size_above_the_bound_of_a_batch_event_sends_commands_of_500_rows(
    make_part, account
):
    from tests.service.importer.conftest import (
        Api,
        csv_bytes,
        outbox_messages,
        run_jobs,
        user_lines,
    )
    from tests.service.importer.test_jobs import upload

    part = make_part(PORTICO_IMPORT_BATCH_SIZE=1200)
    upload(Api(part), account, csv_bytes(user_lines(1300)))
    run_jobs(part)
    assert [len(c["data"]["rows"]) for c in outbox_messages(part, "identity.create_users")] == [
        500,
        500,
        300,
    ]

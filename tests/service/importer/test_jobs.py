"""The job runner and identity's answers: progress, counts, anomalies, the end of a job."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from services.importer.adapters.orm import import_files
from tests.service.importer.conftest import (
    ADMIN,
    CORPUS,
    EXPECTED,
    FakeIdentity,
    csv_bytes,
    new_id,
    outbox_messages,
    run_jobs,
    user_lines,
)


def stored_files(part) -> list[str]:
    with part.engine.connect() as conn:
        return list(conn.execute(sa.select(import_files.c.job_id)).scalars())


def upload(api, account, content, **options) -> str:
    response = api.upload(account, content, **options)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def test_a_job_runs_then_ends_when_identity_answered_every_batch(api, part, identity, account):
    job_id = upload(api, account, csv_bytes(user_lines(3)))

    assert run_jobs(part) == 1
    running = api.job(account, job_id).get_json()
    assert (running["status"], running["processed"], running["created"]) == ("running", 0, 0)
    assert stored_files(part) == [job_id]  # kept while a runner may have to resume the job
    [command] = outbox_messages(part, "identity.create_users")
    assert command["data"]["account_id"] == account and command["account_id"] == account
    assert command["data"]["import_job_id"] == job_id and command["data"]["batch"] == 1
    assert command["data"]["requested_by"] == ADMIN
    assert [row["line"] for row in command["data"]["rows"]] == [1, 2, 3]
    assert command["data"]["rows"][0] == {
        "line": 1,
        "title": "M",
        "last_name": "Martin0",
        "first_name": "Claire0",
        "email": "claire.martin0@example.com",
        "office_phone": None,
        "mobile_phone": None,
        "language": "fr-FR",
        "password_level": 2,
    }

    assert identity.answer() == 1

    job = api.job(account, job_id).get_json()
    assert job["status"] == "done"
    assert (job["rows"], job["processed"], job["created"], job["rejected"]) == (3, 3, 3, 0)
    assert job["anomalies"] == [] and job["would_create"] is None
    assert job["finished_at"] and job["started_at"] and job["reason"] is None
    [finished] = outbox_messages(part, "importer.import.finished")
    data = finished["data"]
    assert (data["import_job_id"], data["account_id"], data["requested_by"]) == (
        job_id,
        account,
        ADMIN,
    )
    assert (data["status"], data["rows"], data["created"], data["rejected"]) == ("done", 3, 3, 0)
    assert data["filename"] == "users.csv" and data["dry_run"] is False
    assert data["report_url"].endswith(f"/api/v1/accounts/{account}/imports/{job_id}/report.csv")
    assert stored_files(part) == []  # the people the file listed are not kept beside the job


def test_progress_and_anomalies_are_readable_while_the_job_runs(make_part, account):
    part = make_part(PORTICO_IMPORT_BATCH_SIZE=2)
    from tests.service.importer.conftest import Api

    api, identity = Api(part), FakeIdentity(part)
    lines = user_lines(5)
    lines.insert(1, "M;Martin;Paul")  # line 2: three columns
    identity.refuse[4] = ("last_name", "Refused by identity.")
    job_id = upload(api, account, csv_bytes(lines))

    run_jobs(part)
    job = api.job(account, job_id).get_json()
    assert job["status"] == "running"
    assert (job["processed"], job["rejected"]) == (1, 1)  # the bad line, known at once
    assert [(a["line"], a["field"]) for a in job["anomalies"]] == [(2, "line")]

    identity.answer(limit=1)  # batch 1: lines 1 and 3
    job = api.job(account, job_id).get_json()
    assert (job["status"], job["processed"], job["created"]) == ("running", 3, 2)

    identity.answer()  # batches 2 (lines 4, 5) and 3 (line 6)
    job = api.job(account, job_id).get_json()
    assert job["status"] == "done"
    assert (job["rows"], job["processed"], job["created"], job["rejected"]) == (6, 6, 4, 2)
    assert [(a["line"], a["field"], a["message"]) for a in job["anomalies"]] == [
        (2, "line", job["anomalies"][0]["message"]),
        (4, "last_name", "Refused by identity."),
    ]
    assert len(outbox_messages(part, "importer.import.finished")) == 1


def test_the_same_answer_twice_changes_nothing(api, part, identity, account):
    job_id = upload(api, account, csv_bytes(user_lines(2)))
    run_jobs(part)
    [command] = identity.pending()
    from bus.envelope import Envelope

    reply = identity.reply(Envelope.from_body(command))
    assert part.processor().process(reply.to_json()).kind == "handled"
    assert part.processor().process(reply.to_json()).kind == "duplicate"
    again = Envelope.from_body({**reply.to_dict(), "id": new_id()})  # same batch, new message
    assert part.processor().process(again.to_json()).kind == "handled"

    job = api.job(account, job_id).get_json()
    assert (job["status"], job["created"], job["processed"]) == ("done", 2, 2)
    assert len(outbox_messages(part, "importer.import.finished")) == 1


def test_an_answer_for_an_unknown_batch_is_dead_lettered(part, account):
    from bus.envelope import Envelope

    answer = Envelope(
        type="identity.users.batch_processed",
        producer="identity",
        data={
            "account_id": account,
            "import_job_id": new_id(),
            "batch": 1,
            "created": [],
            "rejected": [],
        },
    )
    outcome = part.processor().process(answer.to_json())
    assert outcome.kind == "dead" and "no batch 1" in outcome.reason


def test_batches_hold_500_valid_rows_by_default(api, part, identity, account):
    lines = user_lines(1000)
    lines.insert(10, "not;a;user")
    job_id = upload(api, account, csv_bytes(lines))

    run_jobs(part)

    commands = outbox_messages(part, "identity.create_users")
    assert [len(c["data"]["rows"]) for c in commands] == [500, 500]
    assert [c["data"]["batch"] for c in commands] == [1, 2]
    assert commands[0]["data"]["rows"][-1]["line"] == 501  # line 11 is not in any batch
    identity.answer()
    job = api.job(account, job_id).get_json()
    assert (job["status"], job["created"], job["rejected"]) == ("done", 1000, 1)


def test_the_batch_size_is_a_setting(make_part, account):
    from tests.service.importer.conftest import Api

    part = make_part(PORTICO_IMPORT_BATCH_SIZE=300)
    upload(Api(part), account, csv_bytes(user_lines(1000)))
    run_jobs(part)
    assert [len(c["data"]["rows"]) for c in outbox_messages(part, "identity.create_users")] == [
        300,
        300,
        300,
        100,
    ]


def test_a_file_without_a_valid_row_ends_without_asking_identity(api, part, account):
    job_id = upload(api, account, csv_bytes(["M;Martin;Paul;bad-address;;;fr-FR;2"] * 3))

    run_jobs(part)

    job = api.job(account, job_id).get_json()
    assert (job["status"], job["processed"], job["created"], job["rejected"]) == ("done", 3, 0, 3)
    assert outbox_messages(part, "identity.create_users") == []
    assert len(job["anomalies"]) == 3


def test_importing_the_same_file_again_creates_nobody_twice(api, part, identity, account):
    content = csv_bytes(user_lines(4))
    first = upload(api, account, content)
    run_jobs(part)
    identity.answer()
    second = upload(api, account, content)
    run_jobs(part)
    identity.answer()

    assert api.job(account, first).get_json()["created"] == 4
    job = api.job(account, second).get_json()
    assert (job["status"], job["created"], job["rejected"]) == ("done", 0, 4)
    assert {a["message"] for a in job["anomalies"]} == {
        "This address is already used in the portal."
    }


@pytest.mark.parametrize(
    "name", sorted(n for n, e in EXPECTED.items() if "file_error" not in e and e["anomalies"])
)
def test_corpus_anomalies_reach_the_job_with_their_lines(api, part, identity, account, name):
    expected = EXPECTED[name]
    job_id = upload(api, account, (CORPUS / name).read_bytes(), filename=name)
    run_jobs(part)
    identity.answer()

    job = api.job(account, job_id).get_json()
    assert job["status"] == "done"
    assert [[a["line"], a["field"]] for a in job["anomalies"]] == expected["anomalies"]
    assert job["created"] == expected["valid"]
    assert job["rejected"] == expected["rows"] - expected["valid"]


def test_a_job_of_another_account_is_404(api, part, account):
    job_id = upload(api, account, csv_bytes(user_lines(1)))
    other = new_id()

    for response in (api.job(other, job_id), api.report(other, job_id), api.job(account, new_id())):
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
    assert api.job(account, "x" * 200).status_code == 404


def test_the_report_is_csv_neutralised_against_formulas(api, part, identity, account):
    lines = [
        'M;=HYPERLINK("http://evil");Paul;paul@example.com;;;fr-FR;2',
        "M;Martin;Paul;@SUM(A1);;;fr-FR;2",
        *user_lines(1),
    ]
    identity.refuse[3] = ("first_name", "+33 is not a name")
    job_id = upload(api, account, csv_bytes(lines))
    run_jobs(part)
    identity.answer()

    response = api.report(account, job_id)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="import-{job_id}-report.csv"' in response.headers["Content-Disposition"]
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeffline;field;message\r\n")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert [row[:2] for row in rows[1:]] == [["2", "email"], ["3", "first_name"]]
    assert rows[2][2] == "'+33 is not a name"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_a_dry_run_checks_portal_wide_and_imports_nothing(api, part, account):
    from tests.service.importer.conftest import FakeIdentityClient

    part.identity = FakeIdentityClient(taken={"claire.martin1@example.com"})
    lines = [*user_lines(3), "M;Martin;Paul;not-an-address;;;fr-FR;2"]
    job_id = upload(api, account, csv_bytes(lines), dry_run=True)

    run_jobs(part)

    job = api.job(account, job_id).get_json()
    assert (job["status"], job["dry_run"], job["created"], job["would_create"]) == (
        "done",
        True,
        0,
        2,
    )
    assert (job["processed"], job["rejected"]) == (4, 2)
    assert [(a["line"], a["field"]) for a in job["anomalies"]] == [(2, "email"), (4, "email")]
    assert job["anomalies"][0]["message"] == "This address is already used in the portal."
    assert outbox_messages(part, "identity.create_users") == []
    [finished] = outbox_messages(part, "importer.import.finished")
    assert finished["data"]["dry_run"] is True and finished["data"]["would_create"] == 2
    assert part.identity.calls == [[f"claire.martin{n}@example.com" for n in range(3)]]


def test_a_dry_run_asks_identity_1000_addresses_at_most_per_call(make_part, account):
    from tests.service.importer.conftest import Api, FakeIdentityClient

    part = make_part(PORTICO_IMPORT_BATCH_SIZE=2500)
    part.identity = FakeIdentityClient()
    job_id = upload(Api(part), account, csv_bytes(user_lines(2600)), dry_run=True)

    run_jobs(part)

    assert [len(call) for call in part.identity.calls] == [1000, 1000, 500, 100]
    job = Api(part).job(account, job_id).get_json()
    assert (job["status"], job["would_create"]) == ("done", 2600)


def test_a_dry_run_waits_while_identity_is_unreachable(api, part, clock, account):
    from datetime import timedelta

    from tests.service.importer.conftest import FakeIdentityClient

    part.identity = FakeIdentityClient()
    part.identity.down = True
    job_id = upload(api, account, csv_bytes(user_lines(2)), dry_run=True)

    assert run_jobs(part) == 1  # tried once, handed back for later
    assert api.job(account, job_id).get_json()["status"] == "running"
    assert run_jobs(part) == 0  # not before the retry delay

    part.identity.down = False
    clock.advance(timedelta(seconds=11))
    run_jobs(part)
    assert api.job(account, job_id).get_json()["status"] == "done"


def test_a_dry_run_without_identity_fails_after_its_attempts(make_part, clock, account):
    from datetime import timedelta

    from services.importer.service_layer.runner import fail_abandoned_jobs
    from tests.service.importer.conftest import Api

    part = make_part(PORTICO_IMPORT_MAX_ATTEMPTS=2)
    api = Api(part)
    job_id = upload(api, account, csv_bytes(user_lines(2)), dry_run=True)
    for _ in range(2):
        run_jobs(part)
        clock.advance(timedelta(seconds=11))
    assert fail_abandoned_jobs(part.uow()) == [job_id]

    job = api.job(account, job_id).get_json()
    assert job["status"] == "failed" and "interrupted 2 times" in job["reason"]
    [finished] = outbox_messages(part, "importer.import.finished")
    assert finished["data"]["status"] == "failed" and finished["data"]["reason"] == job["reason"]
    assert stored_files(part) == []  # a failed job's file goes too


def test_an_operator_import_names_no_requester_in_the_event(api, part, identity, account):
    upload(api, account, csv_bytes(user_lines(1)), actor="operator")
    run_jobs(part)
    identity.answer()
    [command] = identity.commands
    assert command["data"]["requested_by"] == "operator"
    [finished] = outbox_messages(part, "importer.import.finished")
    assert finished["data"]["requested_by"] is None  # no one to e-mail


def test_anomalies_can_be_limited_while_polling(api, part, account):
    job_id = upload(api, account, csv_bytes(["M;Martin;Paul"] * 5 + user_lines(1)))
    run_jobs(part)

    limited = api.client.get(
        f"/internal/accounts/{account}/imports/{job_id}",
        query_string={"anomalies_limit": 2},
        headers=api.headers(),
    ).get_json()
    assert [a["line"] for a in limited["anomalies"]] == [1, 2]
    assert limited["anomalies_total"] == 5 and limited["rejected"] == 5
    assert api.job(account, job_id).get_json()["anomalies_total"] == 5
    bad = api.client.get(
        f"/internal/accounts/{account}/imports/{job_id}",
        query_string={"anomalies_limit": "all"},
        headers=api.headers(),
    )
    assert bad.status_code == 422

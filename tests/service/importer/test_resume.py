"""Runners that die, lose their lease or hit a bug: jobs are resumed, batches never sent twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.importer.adapters.orm import import_jobs
from services.importer.service_layer import runner
from tests.service.importer.conftest import (
    Api,
    FakeIdentity,
    csv_bytes,
    outbox_messages,
    run_jobs,
    user_lines,
)
from tests.waiting_kit import DEADLINE, eventually


class Crash(BaseException):
    """Stands for the process dying (nothing in the runner catches it)."""


def crash_after(monkeypatch, batches: int) -> list[int]:
    """Make the runner 'die' when it starts recording batch number `batches + 1`."""
    recorded: list[int] = []
    original = runner.record_batch

    def record(uow, claim, chunk, taken):
        if len(recorded) >= batches:
            raise Crash
        original(uow, claim, chunk, taken)
        recorded.append(chunk.batch)

    monkeypatch.setattr(runner, "record_batch", record)
    return recorded


def job_row(part, job_id):
    with part.engine.connect() as conn:
        return conn.execute(sa.select(import_jobs).where(import_jobs.c.id == job_id)).one()


@pytest.fixture
def small_batches(make_part):
    part = make_part(PORTICO_IMPORT_BATCH_SIZE=100, PORTICO_IMPORT_LEASE_SECONDS=30)
    return part, Api(part), FakeIdentity(part)


def test_a_job_whose_runner_died_is_resumed_after_its_lease(
    small_batches, clock, monkeypatch, account
):
    part, api, identity = small_batches
    lines = user_lines(1000)
    lines[150] = "M;Martin;Paul"  # an anomaly in batch 2, recorded once only
    job_id = api.upload(account, csv_bytes(lines)).get_json()["id"]
    recorded = crash_after(monkeypatch, 3)

    with pytest.raises(Crash):
        run_jobs(part, owner="runner-a")

    assert recorded == [1, 2, 3]
    crashed = job_row(part, job_id)
    assert (crashed.status, crashed.lease_owner, crashed.attempts) == ("running", "runner-a", 1)
    monkeypatch.undo()
    identity.answer()  # identity answers what was sent meanwhile

    assert run_jobs(part, owner="runner-b") == 0  # the lease still holds
    clock.advance(timedelta(seconds=31))
    assert run_jobs(part, owner="runner-b") == 1

    commands = outbox_messages(part, "identity.create_users")
    assert [c["data"]["batch"] for c in commands] == list(range(1, 11))
    lines_sent = [row["line"] for c in commands for row in c["data"]["rows"]]
    assert len(lines_sent) == len(set(lines_sent)) == 999
    identity.answer()
    job = api.job(account, job_id).get_json()
    assert (job["status"], job["created"], job["rejected"], job["processed"]) == (
        "done",
        999,
        1,
        1000,
    )
    assert [a["line"] for a in job["anomalies"]] == [151]
    assert job_row(part, job_id).attempts == 2


def test_a_runner_that_lost_its_lease_sends_nothing_more(small_batches, clock, account):
    part, api, identity = small_batches
    job_id = api.upload(account, csv_bytes(user_lines(300))).get_json()["id"]
    slow = runner.claim_next_job(part.uow(), "runner-slow")
    assert slow is not None

    clock.advance(timedelta(seconds=31))
    assert run_jobs(part, owner="runner-fast") == 1  # takes the job over and sends it all

    with pytest.raises(runner.LeaseLost):
        runner.process_job(part, slow)
    assert len(outbox_messages(part, "identity.create_users")) == 3
    identity.answer()
    assert api.job(account, job_id).get_json()["created"] == 300


def test_a_runner_cannot_record_a_batch_once_its_lease_is_taken(small_batches, clock, account):
    part, api, _ = small_batches
    api.upload(account, csv_bytes(user_lines(300)))
    slow = runner.claim_next_job(part.uow(), "runner-slow")
    clock.advance(timedelta(seconds=31))
    fast = runner.claim_next_job(part.uow(), "runner-fast")
    assert fast is not None and fast.job_id == slow.job_id

    from services.importer.domain.jobs import Chunk

    chunk = Chunk(batch=1, first_line=1, last_line=1, rows=[], lines=1, invalid=1)
    with pytest.raises(runner.LeaseLost):
        runner.record_batch(part.uow(), slow, chunk, set())
    assert outbox_messages(part, "identity.create_users") == []


def test_an_unexpected_error_fails_that_job_and_the_runner_goes_on(
    api, part, identity, monkeypatch, account
):
    broken = api.upload(account, csv_bytes(user_lines(2)), filename="broken.csv").get_json()["id"]
    fine = api.upload(account, csv_bytes(user_lines(2, start=10))).get_json()["id"]
    original = runner.parse_upload

    def parse(stream, filename, **options):
        if filename == "broken.csv":
            raise RuntimeError("the parser met something it did not expect")
        return original(stream, filename, **options)

    monkeypatch.setattr(runner, "parse_upload", parse)

    assert run_jobs(part) == 2
    identity.answer()

    failed = api.job(account, broken).get_json()
    assert failed["status"] == "failed"
    assert failed["reason_code"] == "import.unexpected_error"
    assert "RuntimeError: the parser met something it did not expect" in str(
        failed["reason_params"]
    )
    assert api.job(account, fine).get_json()["status"] == "done"
    statuses = [m["data"]["status"] for m in outbox_messages(part, "importer.import.finished")]
    assert sorted(statuses) == ["done", "failed"]


def test_a_job_interrupted_too_often_fails(make_part, clock, monkeypatch, account):
    part = make_part(PORTICO_IMPORT_MAX_ATTEMPTS=2, PORTICO_IMPORT_BATCH_SIZE=1)
    api = Api(part)
    job_id = api.upload(account, csv_bytes(user_lines(5))).get_json()["id"]
    crash_after(monkeypatch, 0)
    for _ in range(2):
        with pytest.raises(Crash):
            run_jobs(part)
        clock.advance(timedelta(seconds=31))

    assert run_jobs(part) == 0  # no attempt left
    assert runner.fail_abandoned_jobs(part.uow()) == [job_id]
    job = api.job(account, job_id).get_json()
    assert job["status"] == "failed" and "interrupted 2 times" in job["reason"]


def test_a_job_whose_answers_never_come_fails(make_part, clock, account):
    part = make_part(PORTICO_IMPORT_ANSWER_TIMEOUT_SECONDS=600, PORTICO_IMPORT_BATCH_SIZE=1)
    api = Api(part)
    job_id = api.upload(account, csv_bytes(user_lines(3))).get_json()["id"]
    run_jobs(part)
    identity = FakeIdentity(part)
    identity.answer(limit=1)

    clock.advance(timedelta(seconds=599))
    assert runner.fail_abandoned_jobs(part.uow()) == []
    clock.advance(timedelta(seconds=2))
    assert runner.fail_abandoned_jobs(part.uow()) == [job_id]

    job = api.job(account, job_id).get_json()
    assert job["status"] == "failed" and "batch(es) 2, 3" in job["reason"]
    identity.answer()  # late answers still count
    job = api.job(account, job_id).get_json()
    assert (job["status"], job["created"]) == ("failed", 3)


def test_a_shutdown_hands_the_job_back_without_counting_an_attempt(small_batches, account):
    part, api, _ = small_batches
    job_id = api.upload(account, csv_bytes(user_lines(300))).get_json()["id"]
    stop = threading.Event()
    stop.set()

    assert runner.run_next_job(part, "runner-a", stop)

    row = job_row(part, job_id)
    assert (row.status, row.lease_owner, row.attempts) == ("running", None, 0)
    assert run_jobs(part, owner="runner-b") == 1
    assert len(outbox_messages(part, "identity.create_users")) == 3


def test_the_loop_is_woken_by_an_upload(make_part, account, monkeypatch):
    part = make_part(PORTICO_IMPORT_POLL_SECONDS=3600)  # a poll would come after the deadline below
    api, identity = Api(part), FakeIdentity(part)
    waiting = threading.Event()
    original_wait = part.signal.wait

    def wait(timeout):
        waiting.set()  # the loop has nothing to do and waits for its poll or a wake-up
        return original_wait(timeout)

    monkeypatch.setattr(part.signal, "wait", wait)
    stop = threading.Event()
    loop = threading.Thread(target=runner.job_loop(part), args=(stop,), daemon=True)
    loop.start()
    try:
        assert waiting.wait(DEADLINE), "the job loop never went to wait for work"
        job_id = api.upload(account, csv_bytes(user_lines(3))).get_json()["id"]
        eventually(identity.pending, what="the woken loop sending the job's batch to identity")
        assert identity.answer() == 1
        # the loop's thread finishes the job after the answer: wait for it, as a user would
        eventually(
            lambda: api.job(account, job_id).get_json()["status"] == "done",
            what="the job done once identity answered",
        )
    finally:
        stop.set()
        part.signal.wake()
        loop.join(DEADLINE)

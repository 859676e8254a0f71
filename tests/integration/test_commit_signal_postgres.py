"""bus.commit_signal on PostgreSQL: a commit made through another engine (as another process
would) wakes the LISTENing side, which comes back after its connection is killed and after its
part was stopped and started again."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bus.commit_signal import CommitSignal
from bus.db import make_engine
from tests.waiting_kit import eventually

pytestmark = pytest.mark.postgres

CHANNEL = "portico_test_signal"


@pytest.fixture
def signals(pg_url) -> Iterator[tuple[CommitSignal, CommitSignal]]:
    """One channel seen from two engines on one database: the listening process's side and
    the committing one's."""
    ours, theirs = make_engine(pg_url), make_engine(pg_url)
    yield CommitSignal(ours, CHANNEL, name="t-listen"), CommitSignal(theirs, CHANNEL, name="t")
    ours.dispose()
    theirs.dispose()


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """The listening part's stop event, set when the test ends."""
    event = threading.Event()
    yield event
    event.set()


def commit_and_see(listening: CommitSignal, committing: CommitSignal) -> bool:
    """Commit a transaction that notifies; True once the listening side was woken. (A NOTIFY
    sent before the LISTEN started is lost by design, hence commits until one is seen.)"""
    with Session(committing.engine) as session, session.begin():
        committing.notify_at_commit(session)
    return listening.wait(0.2)


def listeners() -> int:
    return sum(thread.name == "t-listen" and thread.is_alive() for thread in threading.enumerate())


def test_a_commit_elsewhere_wakes_the_listener(signals, stop):
    listening, committing = signals
    listening.listen(stop)
    eventually(
        lambda: commit_and_see(listening, committing), what="the commit's NOTIFY woke the listener"
    )


def test_the_listener_listens_again_after_its_connection_is_killed(signals, stop):
    listening, committing = signals
    listening.listen(stop)
    eventually(lambda: commit_and_see(listening, committing), what="the listener is listening")
    with committing.engine.begin() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )
        ).scalar_one()
    assert killed == 1
    eventually(lambda: commit_and_see(listening, committing), what="the listener listens again")


def test_a_part_started_again_after_a_stop_listens_again(signals, stop):
    listening, committing = signals
    first = threading.Event()
    listening.listen(first)
    eventually(
        lambda: commit_and_see(listening, committing), what="the first listener is listening"
    )
    first.set()
    eventually(lambda: listeners() == 0, what="the first listener ended with its part")
    listening.listen(stop)
    listening.listen(stop)  # a second call while it runs starts nothing more
    assert listeners() == 1
    eventually(
        lambda: commit_and_see(listening, committing), what="the second listener is listening"
    )

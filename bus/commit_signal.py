"""Waking the threads that wait for a commit, in this process or in any other.

In-process, a threading.Event; on PostgreSQL also a NOTIFY sent at commit, which a LISTENing
thread in every process turns into the same Event. Waiters poll anyway, so a lost signal only
delays the work by one poll interval. Used by the outbox relay and the importer's job runners.
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0  # after a database outage, before LISTENing again
STOP_CHECK_SECONDS = 0.5  # how long a LISTEN waits for a NOTIFY before looking at its stop event


class CommitSignal:
    """One channel: commits that `notify_at_commit` wake whoever `wait`s, in every process."""

    def __init__(self, engine: Engine, channel: str, *, name: str) -> None:
        self.engine = engine
        self.channel = channel
        self.name = name  # of the listening thread, and in its log lines
        self.event = threading.Event()
        self.is_postgres = engine.dialect.name == "postgresql"
        self._listener: threading.Thread | None = None
        self._listener_stop = threading.Event()
        self._lock = threading.Lock()

    def notify_at_commit(self, session: Session) -> None:
        """Have the transaction of `session` wake the waiters of other processes at commit."""
        if self.is_postgres:
            session.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": self.channel})

    def wake(self) -> None:
        """Wake this process's waiters (call after commit)."""
        self.event.set()

    def wait(self, timeout: float) -> bool:
        """Block until woken or `timeout` passed; True when woken."""
        woken = self.event.wait(timeout)
        self.event.clear()
        return woken

    def listen(self, stop: threading.Event) -> None:
        """Start (once) the thread that LISTENs for commits of other processes, until `stop`."""
        with self._lock:
            if not self.is_postgres or self._listening(stop):
                return
            self._listener = threading.Thread(
                target=self._listen, args=(stop,), name=self.name, daemon=True
            )
            self._listener_stop = stop
            self._listener.start()

    def _listening(self, stop: threading.Event) -> bool:
        """Whether a listener runs already (one that a stopped part left behind does not count)."""
        running = self._listener is not None and self._listener.is_alive()
        return running and (self._listener_stop is stop or not self._listener_stop.is_set())

    def _listen(self, stop: threading.Event) -> None:
        import psycopg
        from psycopg import sql

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=STOP_CHECK_SECONDS, stop_after=1):
                            self.event.set()
            except Exception as exc:  # noqa: BLE001 - reconnect after a database outage
                log.warning("%s: %s; listening again in %s s", self.name, exc, RECONNECT_SECONDS)
                stop.wait(RECONNECT_SECONDS)

"""Waking the job runners as soon as an upload commits, in this process or in any other.

In-process, a threading.Event; on PostgreSQL also a NOTIFY sent at commit, which a LISTENing
thread in every worker process turns into the same Event. Runners poll anyway, so a lost
signal only delays a job by one poll interval.
"""

from __future__ import annotations

import logging
import threading
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CHANNEL = "portico_importer_jobs"


class JobSignal:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.event = threading.Event()
        self.is_postgres = engine.dialect.name == "postgresql"
        self._listener: threading.Thread | None = None
        self._lock = threading.Lock()

    def notify_at_commit(self, session: Session) -> None:
        """Have the transaction of `session` wake the runners of other processes at commit."""
        if self.is_postgres:
            session.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})

    def wake(self) -> None:
        """Wake this process's runners (call after commit)."""
        self.event.set()

    def wait(self, timeout: float) -> bool:
        """Block until woken or `timeout` passed; True when woken."""
        woken = self.event.wait(timeout)
        self.event.clear()
        return woken

    def listen(self, stop: threading.Event) -> None:
        """Start (once) the thread that LISTENs for uploads committed by other processes."""
        with self._lock:
            if not self.is_postgres or self._listener is not None:
                return
            self._listener = threading.Thread(
                target=self._listen, args=(stop,), name="importer-listen", daemon=True
            )
            self._listener.start()

    def _listen(self, stop: threading.Event) -> None:
        import psycopg

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{CHANNEL}"')
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self.event.set()
            except Exception as exc:  # noqa: BLE001 - reconnect after a database outage
                log.warning("importer: job listener: %s", exc)
                time.sleep(1)

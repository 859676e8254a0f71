"""Idle costs nothing: a minute of an idle `portico run` and of each idle `portico worker` takes
less than 1% of a core.

What is measured is the CPU time the process spent (utime + stime in /proc/<pid>/stat) over a
minute of wall time, not how long anything took, so a loaded machine does not move it: a thread
that wakes on work or on its schedule costs a few ticks a minute, one that polls every few
milliseconds costs several percent. The processes run side by side to keep the suite short.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from bus.config import PARTS
from bus.secrets import EMBEDDED_SECRETS
from tests.e2e.harness import Process, eventually, free_port, portico_argv, stop_all

pytestmark = pytest.mark.e2e

IDLE_SECONDS = 60.0
MOST_CPU_SHARE = 0.01  # of one core
START_TIMEOUT = 300.0  # seven processes starting at once on a loaded machine
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime: fields 14 and 15


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    return {**env, "PYTHONUNBUFFERED": "1", **settings}


def worker_env(tmp_path: Path, part: str, ops_port: int, identity_url: str) -> dict[str, str]:
    """A distributed worker on SQLite and memory://, with strong secrets."""
    return clean_env(
        PORTICO_DATA_DIR=str(tmp_path / part),
        PORTICO_BROKER_URL="memory://",
        PORTICO_METRICS_HOST="127.0.0.1",
        PORTICO_METRICS_PORT=str(ops_port),
        PORTICO_IDENTITY_URL=identity_url,  # the importer's worker needs where identity is
        **{name: secrets.token_urlsafe(32) for name in EMBEDDED_SECRETS},
    )


def answers_ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False  # not listening yet


@pytest.fixture
def idle_processes(tmp_path):
    """`portico run --no-demo`, `portico run` (with its demo accounts) and `portico worker` of
    every part, each ready; {name: (process, url answering /readyz)}."""
    started: dict[str, tuple[Process, str]] = {}
    for name, args in (("run-no-demo", ["--no-demo"]), ("run-demo", [])):
        port = free_port()
        argv = portico_argv("run", "--port", str(port), "--data-dir", str(tmp_path / name), *args)
        started[name] = (
            Process(name, argv, clean_env(), tmp_path / f"{name}.log", tmp_path),
            f"http://127.0.0.1:{port}",
        )
    for part in PARTS:
        port = free_port()
        # the importer's readiness asks identity's: the embedded portal answers for it
        env = worker_env(tmp_path, part, port, started["run-no-demo"][1])
        subprocess.run(
            portico_argv("migrate", part),
            env=env,
            check=True,
            timeout=START_TIMEOUT,
            capture_output=True,
        )
        started[f"worker-{part}"] = (
            Process(
                f"worker-{part}",
                portico_argv("worker", part),
                env,
                tmp_path / f"{part}.log",
                tmp_path,
            ),
            f"http://127.0.0.1:{port}",
        )
    for process, _ in started.values():
        process.start()
    try:
        for name, (process, url) in started.items():
            eventually(
                lambda url=url: answers_ready(url),
                timeout=START_TIMEOUT,
                interval=0.5,
                what=f"{name} ready (its log: {process.log})",
            )
        yield started
    finally:
        stop_all(process for process, _ in started.values())


def test_a_minute_of_idle_costs_each_process_under_one_percent_of_a_core(idle_processes):
    before = {name: cpu_seconds(process.popen.pid) for name, (process, _) in idle_processes.items()}
    start = time.monotonic()
    time.sleep(IDLE_SECONDS)  # the measurement's window: what is asserted is CPU time, not time
    wall = time.monotonic() - start
    share = {
        name: (cpu_seconds(process.popen.pid) - before[name]) / wall
        for name, (process, _) in idle_processes.items()
    }

    busy = {
        name: f"{100 * value:.2f}% of a core"
        for name, value in share.items()
        if value >= MOST_CPU_SHARE
    }
    assert busy == {}, f"idle processes using CPU (all: {share})"

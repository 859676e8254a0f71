"""deploy/entrypoint.sh: wait (bounded, naming the setting), migrate for `serve`, then exec portico.

A stand-in `portico` on PATH records how it is called, so the order of the steps is visible
without Docker; the wait itself is the real deploy/wait_for_dependencies.py.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bus.secrets import EMBEDDED_SECRETS

ROOT = Path(__file__).resolve().parents[3]
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:1//"

FAKE_PORTICO = """#!/bin/sh
echo "portico $*" >> "$CALLS"
exit "${FAKE_PORTICO_EXIT:-0}"
"""


@pytest.fixture
def run(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "portico"
    fake.write_text(FAKE_PORTICO)
    fake.chmod(0o755)
    calls = tmp_path / "calls.txt"

    def run(*args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
        clean.update(
            {
                # the image's PATH: its python first (here the test's), then the rest
                "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                "CALLS": str(calls),
                "PORTICO_DATA_DIR": str(tmp_path / "var"),
                # strong secrets: `serve` and `worker` refuse to wait without them (bus/secrets.py)
                **{name: secrets.token_urlsafe(32) for name in EMBEDDED_SECRETS},
                **env,
            }
        )
        result = subprocess.run(
            ["sh", str(ENTRYPOINT), *args],
            env=clean,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        lines = calls.read_text().splitlines() if calls.exists() else []
        calls.unlink(missing_ok=True)
        return result, lines

    return run


def test_serve_waits_then_migrates_then_starts(run):
    result, calls = run("serve", "identity", "--bind", "0.0.0.0:9000")
    assert result.returncode == 0, result.stderr
    assert calls == ["portico migrate identity", "portico serve identity --bind 0.0.0.0:9000"]


def test_serve_can_leave_migrations_to_a_release_job(run):
    result, calls = run("serve", "identity", PORTICO_MIGRATE_ON_START="false")
    assert result.returncode == 0, result.stderr
    assert calls == ["portico serve identity"]
    assert "not migrating" in result.stderr


def test_a_failed_migration_stops_the_start(run):
    result, calls = run("serve", "identity", FAKE_PORTICO_EXIT="3")
    assert result.returncode == 3
    assert calls == ["portico migrate identity"]


def test_worker_waits_then_starts_without_migrating(run):
    result, calls = run("worker", "gateway")
    assert result.returncode == 0, result.stderr
    assert calls == ["portico worker gateway"]


def test_other_commands_go_straight_to_portico(run):
    result, calls = run("run", "--no-demo")
    assert result.returncode == 0
    assert calls == ["portico run --no-demo"]
    _, calls = run("serve", "--help")
    assert calls == ["portico serve --help"]


def test_unreachable_broker_is_waited_for_then_named(run):
    started = time.monotonic()
    result, calls = run(
        "worker", "identity", PORTICO_BROKER_URL=UNREACHABLE_BROKER, PORTICO_WAIT_TIMEOUT="4"
    )
    assert result.returncode == 1
    assert calls == [], "portico started although the broker never answered"
    assert "waiting for the broker at 127.0.0.1:1" in result.stderr
    assert "PORTICO_BROKER_URL: the broker at 127.0.0.1:1 did not answer within 4s" in result.stderr
    assert time.monotonic() - started < 30


def test_migrate_waits_for_the_database_only(run):
    result, calls = run(
        "migrate", "identity", PORTICO_BROKER_URL=UNREACHABLE_BROKER, PORTICO_WAIT_TIMEOUT="2"
    )
    assert result.returncode == 0, result.stderr
    assert calls == ["portico migrate identity"]


def test_unreachable_database_is_named_without_its_password(run):
    result, calls = run(
        "serve",
        "identity",
        PORTICO_IDENTITY_DATABASE_URL="postgresql+psycopg://identity:s3cret-pw@127.0.0.1:1/identity",
        PORTICO_WAIT_TIMEOUT="1",
    )
    assert result.returncode == 1
    assert calls == []
    assert (
        "PORTICO_IDENTITY_DATABASE_URL: the identity database at 127.0.0.1:1 did not answer"
        in result.stderr
    )
    assert "s3cret-pw" not in result.stderr


def test_a_malformed_setting_fails_at_once(run):
    result, calls = run(
        "worker", "identity", PORTICO_BROKER_URL="rabbit:/x", PORTICO_WAIT_TIMEOUT="30"
    )
    assert result.returncode == 2
    assert calls == []
    assert "PORTICO_BROKER_URL='rabbit:/x' is not a broker URL" in result.stderr
    assert "waiting" not in result.stderr


def test_an_unknown_part_fails_at_once(run):
    result, calls = run("serve", "billing")
    assert result.returncode == 2
    assert calls == []
    assert "unknown part 'billing'" in result.stderr


def test_a_malformed_url_is_named_without_its_password(run):
    result, calls = run(
        "worker", "identity", PORTICO_BROKER_URL="rabbit://portico:s3cret-pw@rabbitmq//"
    )
    assert result.returncode == 2
    assert "PORTICO_BROKER_URL" in result.stderr
    assert "s3cret-pw" not in result.stderr

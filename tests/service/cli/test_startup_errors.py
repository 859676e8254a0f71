"""`portico migrate|worker|serve` with a wrong setting stops at once, non-zero, naming the setting."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from bus.secrets import EMBEDDED_SECRETS

TIMEOUT = 30  # seconds; each case takes a couple (imports, one refused connection)
SECRET = "s3cret-pw"


def portico(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    strong = {
        name: secrets.token_urlsafe(32) for name in EMBEDDED_SECRETS
    }  # checked first otherwise
    clean.update({"PORTICO_DATA_DIR": str(cwd / "var"), **strong, **env})
    return subprocess.run(
        [sys.executable, "-m", "portico.cli", *args],
        env=clean,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def assert_refused(result: subprocess.CompletedProcess[str], setting: str) -> str:
    assert result.returncode != 0, f"exit 0 despite a wrong {setting}; stdout: {result.stdout}"
    last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    assert setting in last, f"the last line of stderr does not name {setting}:\n{result.stderr}"
    assert "Traceback" not in result.stderr, f"a traceback instead of a message:\n{result.stderr}"
    return last


@pytest.mark.parametrize(
    ("command", "url"),
    [
        ("migrate", "rabbit:/x"),
        ("worker", "rabbit:/x"),
        ("serve", "rabbit:/x"),
        ("worker", "redis://localhost:6379/0"),
        ("worker", "localhost:5672"),
    ],
)
def test_malformed_broker_url(tmp_path, command, url):
    result = portico([command, "identity"], {"PORTICO_BROKER_URL": url}, tmp_path)
    assert_refused(result, "PORTICO_BROKER_URL")
    assert result.returncode == 2


@pytest.mark.parametrize(
    ("command", "url"),
    [
        ("migrate", "not a database url"),
        ("worker", "not a database url"),
        ("migrate", "mysql://portico@localhost/identity"),
        (
            "migrate",
            "postgres://portico@localhost:5432/identity",
        ),  # the old scheme SQLAlchemy 2 refuses
    ],
)
def test_malformed_database_url(tmp_path, command, url):
    result = portico([command, "identity"], {"PORTICO_IDENTITY_DATABASE_URL": url}, tmp_path)
    assert_refused(result, "PORTICO_IDENTITY_DATABASE_URL")
    assert result.returncode == 2


def test_database_url_with_a_port_that_is_not_a_number(tmp_path):
    url = "postgresql+psycopg://portico@localhost:fivefourthreetwo/identity"
    result = portico(["migrate", "identity"], {"PORTICO_IDENTITY_DATABASE_URL": url}, tmp_path)
    assert_refused(result, "PORTICO_IDENTITY_DATABASE_URL")


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_unreachable_broker(tmp_path, command):
    result = portico(
        [command, "identity"], {"PORTICO_BROKER_URL": "amqp://guest:guest@127.0.0.1:1//"}, tmp_path
    )
    last = assert_refused(result, "PORTICO_BROKER_URL")
    assert "cannot be reached" in last


def test_migrate_does_not_need_the_broker(tmp_path):
    result = portico(
        ["migrate", "identity"],
        {"PORTICO_BROKER_URL": "amqp://guest:guest@127.0.0.1:1//"},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("command", ["migrate", "worker", "serve"])
def test_unreachable_database(tmp_path, command):
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:1/x"
    result = portico([command, "identity"], {"PORTICO_IDENTITY_DATABASE_URL": url}, tmp_path)
    last = assert_refused(result, "PORTICO_IDENTITY_DATABASE_URL")
    assert "cannot be reached" in last
    assert SECRET not in result.stderr + result.stdout, "the password is printed"


def test_each_part_names_its_own_database_variable(tmp_path):
    url = "postgresql://postgres@127.0.0.1:1/x"
    result = portico(["migrate", "gateway"], {"PORTICO_GATEWAY_DATABASE_URL": url}, tmp_path)
    assert_refused(result, "PORTICO_GATEWAY_DATABASE_URL")


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("PORTICO_BROKER_URL", f"rabbit://portico:{SECRET}@rabbitmq:5672//"),
        ("PORTICO_IDENTITY_DATABASE_URL", f"portico:{SECRET}@db:5432/identity"),  # no scheme
    ],
)
def test_a_malformed_url_is_shown_without_its_password(tmp_path, variable, url):
    result = portico(["migrate", "identity"], {variable: url}, tmp_path)
    assert_refused(result, variable)
    assert SECRET not in result.stderr + result.stdout

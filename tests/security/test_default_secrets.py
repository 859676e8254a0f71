"""No default secrets outside the embedded mode: `serve` and `worker` refuse a missing, known or
short secret; `migrate` needs none; `portico run` makes its own, readable by its owner only."""

from __future__ import annotations

import os
import re
import secrets
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from bus.secrets import EMBEDDED_SECRETS, MIN_LENGTH, embedded_secrets

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60


def strong() -> dict[str, str]:
    return {name: secrets.token_urlsafe(32) for name in EMBEDDED_SECRETS}


def portico(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    clean.update(
        {
            "PORTICO_DATA_DIR": str(cwd / "var"),
            "PORTICO_BROKER_URL": "memory://",
            "PORTICO_IDENTITY_URL": "http://127.0.0.1:9",
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "portico.cli", *args],
        env=clean,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def refused_for(result: subprocess.CompletedProcess[str], variable: str) -> str:
    assert result.returncode == 2, f"exit {result.returncode}; stderr: {result.stderr[-1500:]}"
    message = result.stderr.strip().splitlines()[-1]
    assert variable in message, message
    assert "token_urlsafe" in message, (
        f"the message does not say how to make a good value: {message}"
    )
    assert "Traceback" not in result.stderr
    return message


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("PORTICO_OPERATOR_TOKEN", None, "unset"),
        ("PORTICO_OPERATOR_TOKEN", "dev-operator-token", "development value"),
        ("PORTICO_SERVICE_TOKEN", "dev-service-token", "development value"),
        ("PORTICO_SECRET_KEY", "dev-secret-change-me", "development value"),
        ("PORTICO_SECRET_KEY", "compose-secret-change-me", "development value"),
        ("PORTICO_SERVICE_TOKEN", "x" * (MIN_LENGTH - 1), "fewer than 32"),
    ],
)
def test_the_gateway_refuses_to_start_with_a_weak_secret(
    tmp_path, command, variable, value, reason
):
    env = strong()
    if value is None:
        del env[variable]
    else:
        env[variable] = value
    message = refused_for(portico([command, "gateway"], env, tmp_path), variable)
    assert reason in message


@pytest.mark.parametrize("part", ["identity", "subscriptions", "notifications", "importer"])
def test_every_service_refuses_to_start_without_the_service_token(tmp_path, part):
    refused_for(portico(["worker", part], {}, tmp_path), "PORTICO_SERVICE_TOKEN")


def test_the_operator_token_may_not_be_the_service_token(tmp_path):
    env = strong()
    env["PORTICO_OPERATOR_TOKEN"] = env["PORTICO_SERVICE_TOKEN"]
    refused_for(portico(["serve", "gateway"], env, tmp_path), "PORTICO_OPERATOR_TOKEN")


def test_strong_secrets_pass_the_check(tmp_path):
    """With strong secrets the next check speaks: here the database, which cannot be reached."""
    env = {
        **strong(),
        "PORTICO_GATEWAY_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
    }
    result = portico(["worker", "gateway"], env, tmp_path)
    assert result.returncode == 2
    assert (
        "PORTICO_GATEWAY_DATABASE_URL" in result.stderr and "refuses to start" not in result.stderr
    )


def test_migrate_needs_no_secret(tmp_path):
    result = portico(["migrate", "identity"], {}, tmp_path)
    assert result.returncode == 0, result.stderr


def test_gunicorn_started_by_hand_is_refused_too(monkeypatch):
    from bus.config import ConfigError
    from portico import wsgi

    for name in EMBEDDED_SECRETS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="PORTICO_SERVICE_TOKEN"):
        wsgi.app("identity")


def test_the_embedded_secrets_are_made_once_and_kept_private(tmp_path):
    made, path = embedded_secrets(tmp_path / "data", {})
    assert sorted(made) == sorted(EMBEDDED_SECRETS)
    assert all(len(value) >= MIN_LENGTH for value in made.values())
    assert len(set(made.values())) == 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    again, _ = embedded_secrets(tmp_path / "data", {})
    assert again == made, "a restart must keep the same secrets (sessions, scripts)"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    given, _ = embedded_secrets(tmp_path / "data", {"PORTICO_OPERATOR_TOKEN": "mine"})
    assert "PORTICO_OPERATOR_TOKEN" not in given


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_portico_run_generates_its_secrets_and_refuses_the_development_token(tmp_path):
    port, data = free_port(), tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    log = tmp_path / "run.log"
    with log.open("w") as out:
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "portico.cli",
                "run",
                "--no-demo",
                "--port",
                str(port),
                "--data-dir",
                str(data),
            ],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 90
        while "Portico is running" not in log.read_text():
            assert run.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        path = data / "secrets.env"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert str(path) in log.read_text(), "`portico run` must say where its secrets are"
        token = re.search(r"^PORTICO_OPERATOR_TOKEN=(\S+)$", path.read_text(), re.M).group(1)
        assert token not in log.read_text(), "the token itself is not printed"
        url = f"http://127.0.0.1:{port}/api/v1/operator/accounts"
        body = {"number": "424242", "name": "Secrets Ltd"}
        assert (
            httpx.post(
                url, json=body, headers={"Authorization": "Bearer dev-operator-token"}
            ).status_code
            == 401
        )
        assert (
            httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}).status_code
            == 201
        )
    finally:
        run.terminate()
        run.wait(30)


def test_docker_compose_has_no_fallback_secret_and_the_readme_says_how_to_make_them():
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    env = yaml.safe_load(text)["x-portico-env"]
    for name in EMBEDDED_SECRETS:
        assert re.fullmatch(r"\$\{" + name + r":\?.+\}", env[name]), f"{name}: {env[name]!r}"
    assert "dev-operator-token" not in text and ":-dev" not in text
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert all(f"{name}=" in example for name in EMBEDDED_SECRETS)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert ".env.example" in readme and "token_urlsafe" in readme

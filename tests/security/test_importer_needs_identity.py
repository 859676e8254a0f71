"""The distributed importer refuses to start without PORTICO_IDENTITY_URL, and its /readyz says
whether identity answers, instead of failing each dry run after 50 s with a misleading reason."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from flask import Flask

from bus.config import Settings
from bus.http_client import ServiceClient
from bus.secrets import EMBEDDED_SECRETS
from services.importer.bootstrap import build
from services.importer.entrypoints.api import create_app

TOKEN = "t" * 40


def portico(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    clean.update(
        {
            "PORTICO_DATA_DIR": str(cwd / "var"),
            "PORTICO_BROKER_URL": "memory://",
            **{name: secrets.token_urlsafe(32) for name in EMBEDDED_SECRETS},
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "portico.cli", *args],
        env=clean,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_the_importer_refuses_to_start_without_identity(tmp_path, command):
    result = portico([command, "importer"], {}, tmp_path)
    assert result.returncode == 2, result.stderr[-1500:]
    message = result.stderr.strip().splitlines()[-1]
    assert "PORTICO_IDENTITY_URL" in message and "http://identity:8000" in message, message


def test_the_entrypoint_wait_refuses_it_at_once(monkeypatch, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "wait_for_dependencies",
        Path(__file__).resolve().parents[2] / "deploy" / "wait_for_dependencies.py",
    )
    wait = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wait)
    for name in EMBEDDED_SECRETS:
        monkeypatch.setenv(name, secrets.token_urlsafe(32))
    monkeypatch.delenv("PORTICO_IDENTITY_URL", raising=False)
    monkeypatch.setenv("PORTICO_BROKER_URL", "memory://")
    assert wait.main(["worker", "importer"]) == 2
    assert "PORTICO_IDENTITY_URL" in capsys.readouterr().err


def importer(tmp_path, clients=None, **service_urls: str):
    settings = Settings(
        part="importer",
        database_url=f"sqlite:///{tmp_path}/importer.db",
        broker_url="memory://",
        bus_prefix=f"t{uuid.uuid4().hex[:10]}",
        service_token=TOKEN,
        service_urls=service_urls,
    )
    part = build(settings, clients)
    part.migrate()
    return part


def readyz(app: Flask) -> tuple[int, dict]:
    answer = app.test_client().get("/readyz")
    return answer.status_code, answer.get_json()["checks"]


def test_readyz_fails_while_identity_is_not_configured(tmp_path):
    status, checks = readyz(create_app(importer(tmp_path)))
    assert status == 503
    assert "PORTICO_IDENTITY_URL" in checks["identity"], checks


def test_readyz_fails_while_identity_does_not_answer(tmp_path):
    status, checks = readyz(create_app(importer(tmp_path, identity="http://127.0.0.1:9")))
    assert status == 503
    assert checks["identity"].startswith("unavailable"), checks


def test_readyz_passes_once_identity_is_ready(tmp_path):
    identity = Flask("identity")
    identity.get("/readyz")(lambda: {"status": "ready"})
    client = ServiceClient("identity", app=identity, token=TOKEN)  # the embedded mode's wiring
    status, checks = readyz(create_app(importer(tmp_path, {"identity": client})))
    assert (status, checks["identity"]) == (200, "ok"), checks

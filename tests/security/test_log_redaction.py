"""No log line holds a link token: gunicorn's access log, the embedded server's log and every
record a part writes show [redacted] after /activate/, /activations/, /password-resets/, ..."""

from __future__ import annotations

import io
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bus import logredact
from bus.secrets import EMBEDDED_SECRETS

TOKEN = "Kx9_" + secrets.token_urlsafe(24)


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        (
            f'127.0.0.1 - - "GET /api/v1/activations/{TOKEN} HTTP/1.1" 200',
            "/api/v1/activations/[redacted] HTTP/1.1",
        ),
        (
            f'"POST /api/v1/password-resets/{TOKEN} HTTP/1.1" 204',
            "/api/v1/password-resets/[redacted] HTTP",
        ),
        (f"POST /internal/email-changes/{TOKEN}?x=1", "/internal/email-changes/[redacted]?x=1"),
        (
            f'"GET /static/a.css" 200 "https://portal.example.com/activate/{TOKEN}"',
            '/activate/[redacted]"',
        ),
        (f"https://p.example.com/reset-password/{TOKEN}", "/reset-password/[redacted]"),
        (f"/confirm-email/{TOKEN}/", "/confirm-email/[redacted]/"),
    ],
)
def test_token_segments_are_redacted(line, kept):
    clean = logredact.redact(line)
    assert TOKEN not in clean and kept in clean, clean


@pytest.mark.parametrize(
    "line",
    [
        "POST /api/v1/password-resets HTTP/1.1",
        "POST /api/v1/accounts/a-1/activation-emails",
        "GET /activate",
    ],
)
def test_other_paths_are_left_alone(line):
    assert logredact.redact(line) == line


def test_every_record_of_the_process_is_redacted_once_installed(monkeypatch):
    # installed for this test only: the factory goes back afterwards
    monkeypatch.setattr(logredact, "_installed", False)
    monkeypatch.setattr(logging, "_logRecordFactory", logging.getLogRecordFactory())
    logredact.install()
    logredact.install()  # idempotent
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(f"portico.test.{secrets.token_hex(4)}")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("identity answered 410 for %s", f"/internal/activations/{TOKEN}")
        try:
            raise RuntimeError(
                f"Server error for url 'http://identity:8000/internal/password-resets/{TOKEN}'"
            )
        except RuntimeError:
            logger.exception("calling identity failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert TOKEN not in text, text
    assert (
        "/internal/activations/[redacted]" in text
        and "/internal/password-resets/[redacted]" in text
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_line(log: Path, process: subprocess.Popen, wanted: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text(errors="replace")
        if wanted in text:
            return text
        assert process.poll() is None, f"exited {process.returncode}:\n{text[-3000:]}"
        assert time.monotonic() < deadline, f"no {wanted!r} within {timeout}s:\n{text[-3000:]}"
        time.sleep(0.2)


def start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    clean.update({"PYTHONUNBUFFERED": "1", "GUNICORN_CMD_ARGS": "--no-control-socket", **env})
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "portico.cli", *args],
            env=clean,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(10)


def test_gunicorns_access_log_hides_the_token(tmp_path):
    env = {
        "PORTICO_DATA_DIR": str(tmp_path / "var"),
        "PORTICO_BROKER_URL": "memory://",
        **{name: secrets.token_urlsafe(32) for name in EMBEDDED_SECRETS},
    }
    migrate = subprocess.run(
        [sys.executable, "-m", "portico.cli", "migrate", "identity"],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    port, log = free_port(), tmp_path / "serve.log"
    serve = start(
        ["serve", "identity", "--bind", f"127.0.0.1:{port}", "--workers", "1"], env, tmp_path, log
    )
    try:
        headers = {"Authorization": f"Bearer {env['PORTICO_SERVICE_TOKEN']}"}
        deadline = time.monotonic() + 90
        while True:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/internal/activations/{TOKEN}", headers=headers
                )
                break
            except httpx.HTTPError:
                assert serve.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.3)
        assert answer.status_code == 404
        text = wait_for_line(log, serve, "/internal/activations/[redacted]")
        assert TOKEN not in text
    finally:
        stop(serve)


def test_the_embedded_servers_log_hides_the_token(tmp_path):
    port, log = free_port(), tmp_path / "run.log"
    run = start(
        ["run", "--no-demo", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        {},
        tmp_path,
        log,
    )
    try:
        wait_for_line(log, run, "Portico is running")
        answer = httpx.get(f"http://127.0.0.1:{port}/activate/{TOKEN}")
        assert answer.status_code in (404, 410), answer.status_code
        text = wait_for_line(log, run, "/activate/[redacted]")
        assert TOKEN not in text
    finally:
        stop(run)


@pytest.mark.e2e
def test_the_distributed_mode_logs_and_keeps_no_link_token(amqp_url, pg_admin_url, tmp_path):
    """Every part as its own processes: a link opened through the gateway (API and web page) is
    in no process's log, and identity's outbox row keeps no token once the e-mail is out."""
    import re

    from tests.e2e.harness import Cluster, eventually

    cluster = Cluster(tmp_path, amqp_url, pg_admin_url).start()
    try:
        account = cluster.create_account("Redacted Logs Ltd")
        email = f"logs-{secrets.token_hex(4)}@example.com"
        answer = cluster.http.post(
            f"/api/v1/operator/accounts/{account['number']}/administrators",
            json={
                "email": email,
                "title": "MME",
                "last_name": "Log",
                "first_name": "Ada",
                "language": "en-US",
            },
            headers=cluster.operator_headers,
        )
        assert answer.status_code == 201, answer.text
        mail = cluster.mail.wait_for_mail(to=email, subject_contains="activation", timeout=60)
        token = next(
            re.search(r"/activate/([^/?#\s]+)", link).group(1)
            for link in mail.links
            if "/activate/" in link
        )
        assert cluster.http.get(f"/api/v1/activations/{token}").status_code == 200
        assert cluster.http.get(f"/activate/{token}").status_code == 200

        def blanked() -> bool:
            rows = cluster.query(
                "identity",
                "SELECT body FROM bus_outbox WHERE type = 'identity.link.issued' AND published_at IS NOT NULL",
            )
            assert rows and all(token not in row.body for row in rows), (
                "the sent row keeps the token"
            )
            return True

        eventually(blanked, timeout=30, what="identity's sent outbox rows without the token")

        def redacted_in_logs() -> bool:
            logs = {p.name: p.log.read_text(errors="replace") for p in cluster.processes.values()}
            assert "/api/v1/activations/[redacted]" in logs["gateway-serve"], logs["gateway-serve"][
                -2000:
            ]
            assert "/internal/activations/[redacted]" in logs["identity-serve"], logs[
                "identity-serve"
            ][-2000:]
            leaking = [name for name, text in logs.items() if token in text]
            assert not leaking, f"the token is in the logs of {leaking}"
            return True

        eventually(redacted_in_logs, timeout=30, what="the access logs written, without the token")
    finally:
        cluster.stop()

"""PORTICO_LOG_FORMAT=json: one JSON object per line with time, level, part, trace id, request
id and message; link tokens never reach a line; a wrong setting is refused saying what to write."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from opentelemetry.sdk.trace import TracerProvider

from bus import logging_setup, logredact, tracing
from bus.config import ConfigError
from bus.http import ops_blueprint

TOKEN = "Zq8v-secret-activation-token"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """What the root logger writes once configured for JSON (its stream, kept in memory)."""
    root = logging.getLogger()
    level = root.level
    logredact.install()
    logging_setup.configure("identity", {"PORTICO_LOG_FORMAT": "json", "PORTICO_LOG_LEVEL": "INFO"})
    [handler] = [h for h in root.handlers if h.get_name() == "portico"]
    written = io.StringIO()
    handler.setStream(written)
    yield written
    root.removeHandler(handler)
    root.setLevel(level)


def lines(written: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in written.getvalue().splitlines() if line.strip()]


def test_a_line_says_when_how_bad_which_part_which_trace_which_request_and_what(json_logs):
    provider = TracerProvider()
    tracing.install(provider)
    try:
        app = Flask("identity-test")
        app.register_blueprint(ops_blueprint(lambda: {}))

        @app.get("/internal/activations/<token>")
        def opened(token: str) -> str:
            logging.getLogger("services.identity").warning("opened /internal/activations/%s", token)
            return "ok"

        answer = app.test_client().get(
            f"/internal/activations/{TOKEN}",
            headers={
                "X-Portico-Request-Id": "req-42",
                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            },
        )
    finally:
        tracing.uninstall()
        provider.shutdown()
    assert answer.status_code == 200
    [line] = [entry for entry in lines(json_logs) if entry["logger"] == "services.identity"]
    assert line["level"] == "WARNING" and line["part"] == "identity"
    assert line["request_id"] == "req-42"
    assert line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert line["message"] == "opened /internal/activations/[redacted]"
    assert line["time"].endswith("+00:00") and "T" in line["time"]


def test_outside_a_request_and_a_trace_the_ids_are_null_and_a_traceback_is_kept(json_logs):
    try:
        raise RuntimeError(f"could not open /reset-password/{TOKEN}")
    except RuntimeError:
        logging.getLogger("bus.consumer").exception("a handler failed")
    [line] = lines(json_logs)
    assert line["trace_id"] is None and line["request_id"] is None
    assert line["level"] == "ERROR" and line["message"] == "a handler failed"
    assert "RuntimeError" in line["exception"] and TOKEN not in line["exception"]


def test_a_format_that_does_not_exist_is_refused_saying_what_to_write():
    with pytest.raises(ConfigError, match="PORTICO_LOG_FORMAT='xml'.*text .*or json"):
        logging_setup.configure("identity", {"PORTICO_LOG_FORMAT": "xml"})


def test_a_portico_command_writes_only_json_lines(tmp_path: Path):
    env = {
        **os.environ,
        "PORTICO_LOG_FORMAT": "json",
        "PORTICO_IDENTITY_DATABASE_URL": f"sqlite:///{tmp_path}/identity-{uuid.uuid4().hex}.db",
    }
    done = subprocess.run(
        [sys.executable, "-m", "portico.cli", "migrate", "identity"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    logged = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert logged, "migrate logged nothing"
    assert {entry["part"] for entry in logged} == {"identity"}
    assert all(
        set(entry) >= {"time", "level", "part", "trace_id", "request_id", "message"}
        for entry in logged
    )

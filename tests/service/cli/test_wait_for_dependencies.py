"""deploy/wait_for_dependencies.py retries a dependency that does not answer yet, saying so."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

WAIT_SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "wait_for_dependencies.py"


def load_wait():
    spec = importlib.util.spec_from_file_location("wait_for_dependencies", WAIT_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_dependency_answering_at_its_second_try_is_waited_for(capsys):
    wait = load_wait()
    tries = []

    def answers_the_second_time() -> None:
        tries.append(1)
        if len(tries) == 1:
            raise ConnectionRefusedError("connection refused")

    deadline = time.monotonic() + 120
    assert (
        wait.wait(
            "PORTICO_BROKER_URL",
            "the broker at rabbitmq:5672",
            answers_the_second_time,
            deadline,
            120,
        )
        is True
    )

    err = capsys.readouterr().err
    assert len(tries) == 2
    assert (
        "waiting for the broker at rabbitmq:5672 (PORTICO_BROKER_URL), attempt 1: connection refused"
        in err
    )
    assert "the broker at rabbitmq:5672 answers" in err


def test_a_dependency_answering_at_once_is_not_reported_as_waited_for(capsys):
    wait = load_wait()
    assert wait.wait("PORTICO_BROKER_URL", "the broker", lambda: None, time.monotonic() + 60, 60)
    assert capsys.readouterr().err == ""

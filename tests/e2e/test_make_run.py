"""The README's first set-up command on a fresh clone: `make run` installs, starts, answers /readyz."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import eventually, free_port
from tests.missing_kit import require_tools

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
INSTALL_AND_START_TIMEOUT = 300  # seconds: a new .venv and pip install (its cache helps)


def clean_env() -> dict[str, str]:
    """The environment of someone who just cloned: no Portico settings, no active venv, no make."""
    drop = ("VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_") and k not in drop}
    venv_bin = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def test_make_run_on_a_fresh_clone_answers_readyz(tmp_path):
    require_tools("git", "make")
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120, env=clean_env()
    )
    port = free_port()
    log = tmp_path / "make-run.log"
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "run", f"PORT={port}", f"DATA_DIR={tmp_path / 'data'}"],
            cwd=clone,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def ready() -> bool:
            if make.poll() is not None:
                pytest.fail(
                    f"`make run` exited with {make.returncode}:\n{tail(log)}", pytrace=False
                )
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            except httpx.HTTPError as exc:
                raise AssertionError(str(exc)) from None
            assert response.status_code == 200, response.text
            return True

        try:
            eventually(
                ready,
                timeout=INSTALL_AND_START_TIMEOUT,
                interval=0.5,
                what="`make run` answering /readyz",
            )
        except AssertionError as exc:
            pytest.fail(f"{exc}\n--- make run output:\n{tail(log)}", pytrace=False)
        assert (clone / ".venv" / "bin" / "portico").exists(), (
            "make run did not install into the clone's .venv"
        )
        assert f"Portico is running at http://127.0.0.1:{port}/" in log.read_text(errors="replace")
    finally:
        stop(make)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # make and the portico it started
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

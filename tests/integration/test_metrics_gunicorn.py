"""`portico serve` under gunicorn with two worker processes: /metrics counts the requests that
every process answered (prometheus_client's multiprocess mode), whichever process is scraped;
with PORTICO_LOG_FORMAT=json every line it writes, gunicorn's own included, is a JSON object."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

DEADLINE_SECONDS = 120
TOKEN = "Zq8v-a-link-token-for-the-access-log"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "portico_http_requests_total"
                and sample.labels.get("route") == "/healthz"
                and sample.labels.get("part") == "identity"
            ):
                return sample.value
    return 0.0


def test_requests_to_both_gunicorn_workers_are_all_counted(tmp_path: Path) -> None:
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "PORTICO_SERVICE_TOKEN": secrets.token_urlsafe(32),
        "PORTICO_IDENTITY_DATABASE_URL": f"sqlite:///{tmp_path}/identity.db",
        "PORTICO_BROKER_URL": "memory://",
        "PORTICO_DATA_DIR": str(tmp_path),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PORTICO_LOG_FORMAT": "json",
    }
    portico = [sys.executable, "-m", "portico.cli"]
    subprocess.run([*portico, "migrate", "identity"], env=env, check=True, capture_output=True)
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        [*portico, "serve", "identity", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(0.2)
        sent = 1

        def one(_: int) -> int:
            # a connection of its own each time, so that either process may accept it
            with httpx.Client(timeout=10) as client:
                return client.get(f"{base}/healthz", headers={"Connection": "close"}).status_code

        # Until both processes have answered some (each keeps its own file of counters there).
        with ThreadPoolExecutor(max_workers=16) as pool:
            while len({p.name.rsplit("_", 1)[-1] for p in metrics_dir.glob("counter_*.db")}) < 2:
                assert time.monotonic() < deadline, "one gunicorn worker answered every request"
                statuses = list(pool.map(one, range(32)))
                assert statuses == [200] * 32
                sent += 32

        counted = [healthz_count(httpx.get(f"{base}/metrics", timeout=10).text) for _ in range(8)]
        httpx.get(f"{base}/internal/activations/{TOKEN}", timeout=10)  # in the access log
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    assert counted == [sent] * 8, f"sent {sent} requests to /healthz; /metrics said {counted}"
    written = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert TOKEN not in written
    lines = [json.loads(line) for line in written.splitlines() if line.strip()]
    assert {line["part"] for line in lines} == {"identity"}
    assert any("/internal/activations/[redacted]" in line["message"] for line in lines)

"""Container health check of the Portico image (its HEALTHCHECK).

A `serve` container is healthy when its gunicorn answers GET /healthz; a `worker` container when
its ops server answers GET /healthz on PORTICO_METRICS_PORT (or, with that port unset or 0,
while its process runs); a container still waiting or migrating is not yet healthy. What runs is
read from PID 1's command line, so the check follows `--bind` wherever it points.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path

LOCAL_HOSTS = ("", "0.0.0.0", "::", "[::]", "*")


def main(cmdline: Path = Path("/proc/1/cmdline"), env: Mapping[str, str] = os.environ) -> int:
    try:
        argv = [arg for arg in cmdline.read_bytes().decode(errors="replace").split("\0") if arg]
    except OSError as exc:
        print(f"unhealthy: cannot read {cmdline}: {exc}")
        return 1
    role = role_of(argv)
    if role == "worker":
        port = (env.get("PORTICO_METRICS_PORT") or "0").strip()
        if port in ("", "0"):
            return 0
        return probe(f"http://127.0.0.1:{port}/healthz")
    if role != "serve":
        print(f"unhealthy: not serving yet ({' '.join(argv)[:200]})")
        return 1
    return probe(healthz_url(argv))


def probe(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=4) as response:  # noqa: S310 - a local URL
            if response.status == 200:
                return 0
            print(f"unhealthy: {url} answered {response.status}")
    except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy"
        print(f"unhealthy: {url}: {exc}")
    return 1


def role_of(argv: list[str]) -> str:
    """'serve' once gunicorn runs, 'worker' for `portico worker`, else 'starting'."""
    if any(Path(arg).name == "gunicorn" for arg in argv):
        return "serve"
    names = [Path(arg).name for arg in argv]
    if "portico" in names and "worker" in argv[names.index("portico") :]:
        return "worker"
    if "portico.cli" in argv and "worker" in argv:
        return "worker"
    return "starting"


def healthz_url(argv: list[str]) -> str:
    """http://host:port/healthz of the `--bind` (or `-b`) given to gunicorn; 0.0.0.0 is reached locally."""
    bind = "127.0.0.1:8000"
    for i, arg in enumerate(argv):
        if arg in ("--bind", "-b") and i + 1 < len(argv):
            bind = argv[i + 1]
        elif arg.startswith("--bind="):
            bind = arg.split("=", 1)[1]
    host, _, port = bind.rpartition(":")
    if host in LOCAL_HOSTS:
        host = "127.0.0.1"
    return f"http://{host}:{port or 8000}/healthz"


if __name__ == "__main__":
    sys.exit(main())

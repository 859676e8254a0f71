"""The image's helper scripts: health check from PID 1's command line, the wait's messages, the Dockerfile."""

from __future__ import annotations

import importlib.util
import re
import socket
from types import ModuleType

import pytest

from tests.unit.deploy.sources import ROOT

DEPLOY = ROOT / "deploy"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DEPLOY / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = load("healthcheck")
wait = load("wait_for_dependencies")

GUNICORN = [
    "/opt/venv/bin/python",
    "-m",
    "gunicorn",
    "--bind",
    "0.0.0.0:8000",
    "--workers",
    "2",
    "--access-logfile",
    "-",
    "portico.wsgi:app('identity')",
]


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        (GUNICORN, "serve"),
        (["/opt/venv/bin/python", "/opt/venv/bin/portico", "worker", "identity"], "worker"),
        (["/bin/sh", "/opt/portico/bin/entrypoint.sh", "worker", "identity"], "starting"),
        (["/bin/sh", "/opt/portico/bin/entrypoint.sh", "serve", "identity"], "starting"),
        (["/opt/venv/bin/python", "/opt/venv/bin/portico", "serve", "identity"], "starting"),
        (["/opt/venv/bin/python", "/opt/venv/bin/portico", "migrate", "identity"], "starting"),
    ],
)
def test_the_role_is_read_from_the_command_line(argv, role):
    assert healthcheck.role_of(argv) == role


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("0.0.0.0:8000", "http://127.0.0.1:8000/healthz"),
        ("127.0.0.1:9001", "http://127.0.0.1:9001/healthz"),
        ("[::]:8080", "http://127.0.0.1:8080/healthz"),
        ("10.0.0.5:8000", "http://10.0.0.5:8000/healthz"),
    ],
)
def test_healthz_follows_the_bind(bind, url):
    argv = [a if a != "0.0.0.0:8000" else bind for a in GUNICORN]
    assert healthcheck.healthz_url(argv) == url
    assert healthcheck.healthz_url(["python", "-m", "gunicorn", f"--bind={bind}"]) == url


WORKER = b"/opt/venv/bin/python\0/opt/venv/bin/portico\0worker\0identity\0"


def test_a_container_still_starting_is_unhealthy(tmp_path):
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"/bin/sh\0/opt/portico/bin/entrypoint.sh\0serve\0identity\0")
    assert healthcheck.main(cmdline, {}) == 1
    assert healthcheck.main(tmp_path / "missing", {}) == 1


@pytest.fixture
def healthz_server():
    """A local server answering GET /healthz with 200, as a worker's ops port does."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_a_worker_is_healthy_when_its_ops_port_answers(tmp_path, healthz_server):
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(WORKER)
    assert healthcheck.main(cmdline, {"PORTICO_METRICS_PORT": str(healthz_server)}) == 0
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert healthcheck.main(cmdline, {"PORTICO_METRICS_PORT": str(closed)}) == 1


def test_a_worker_without_an_ops_port_is_healthy_while_it_runs(tmp_path):
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(WORKER)
    assert healthcheck.main(cmdline, {}) == 0
    assert healthcheck.main(cmdline, {"PORTICO_METRICS_PORT": "0"}) == 0


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://identity:s3cret@postgres:5432/identity", "postgres:5432"),
        ("amqp://portico:s3cret@rabbitmq:5672//", "rabbitmq:5672"),
        ("amqp://portico:s3cret@rabbitmq//", "rabbitmq"),
        ("sqlite:///var/identity.db", "sqlite:///var/identity.db"),
    ],
)
def test_the_wait_names_where_it_waits_without_the_password(url, shown):
    assert wait.where(url) == shown


def test_the_wait_refuses_bad_arguments_and_a_bad_timeout(monkeypatch, capsys):
    assert wait.main(["serve"]) == 2
    assert wait.main(["run", "identity"]) == 2
    monkeypatch.setenv("PORTICO_WAIT_TIMEOUT", "soon")
    monkeypatch.setenv("PORTICO_BROKER_URL", "memory://")
    assert wait.main(["migrate", "identity"]) == 2
    assert "PORTICO_WAIT_TIMEOUT" in capsys.readouterr().err


def test_the_wait_gives_up_at_its_deadline_naming_the_variable(capsys):
    def never() -> None:
        raise ConnectionRefusedError("connection refused")

    assert (
        wait.wait("PORTICO_BROKER_URL", "the broker at rabbitmq:5672", never, deadline=0, timeout=0)
        is False
    )
    err = capsys.readouterr().err
    assert "PORTICO_BROKER_URL" in err and "connection refused" in err


def test_dockerfile_runs_as_non_root_with_the_entrypoint_and_a_healthcheck():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert re.search(r"^USER portico$", text, re.M)
    assert 'ENTRYPOINT ["/opt/portico/bin/entrypoint.sh"]' in text
    assert re.search(
        r"^HEALTHCHECK .*\n\s+CMD \[\"python\", \"/opt/portico/bin/healthcheck.py\"\]", text, re.M
    )
    for script in (
        "entrypoint.sh",
        "wait_for_dependencies.py",
        "healthcheck.py",
        "dead_letters.py",
    ):
        assert f"deploy/{script}" in text, f"the image lacks deploy/{script}"
        assert (DEPLOY / script).is_file()
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    for copied in re.findall(
        r"^COPY (?!--from)(?:--chmod=\S+ )?(.+?) \S+$", text.replace("\\\n", " "), re.M
    ):
        for source in copied.split():
            assert f"!{source}" in ignore or f"!{source}/**" in ignore, (
                f"{source} is outside the build context"
            )


def test_entrypoint_is_executable_posix_sh():
    entrypoint = DEPLOY / "entrypoint.sh"
    assert entrypoint.read_text(encoding="utf-8").startswith("#!/bin/sh\n")
    assert entrypoint.stat().st_mode & 0o111, "chmod +x deploy/entrypoint.sh"


@pytest.mark.parametrize(
    "text",
    [
        "PORTICO_BROKER_URL='rabbit://portico:s3cret@rabbitmq:5672//' is not a broker URL",
        "PORTICO_IDENTITY_DATABASE_URL='portico:s3cret@db:5432/identity' is not a database URL",
        "connection to postgresql+psycopg://identity:s3cret@postgres/identity failed",
    ],
)
def test_the_entrypoint_never_prints_a_password(text, capsys):
    wait.say(text)
    err = capsys.readouterr().err
    assert "s3cret" not in err and "***@" in err

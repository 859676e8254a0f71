"""docker-compose.yml agrees with the code: real commands, real variables, every part served and worked."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import yaml

from portico import cli, parts
from tests.unit.deploy.sources import ROOT, code_variables, deploy_variables, is_known

COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def portico_services(compose: dict) -> dict[str, dict]:
    """The services that run the image of deploy/Dockerfile."""
    return {
        name: service
        for name, service in compose["services"].items()
        if (service.get("build") or {}).get("dockerfile") == "deploy/Dockerfile"
    }


def parse_with_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> argparse.Namespace:
    """Parse `argv` with the real `portico` parser; record the command it dispatches to."""
    seen: list[argparse.Namespace] = []
    for name in list(cli.COMMANDS):
        monkeypatch.setitem(cli.COMMANDS, name, lambda args: seen.append(args) or 0)
    try:
        assert cli.main(argv) == 0
    except SystemExit as exc:
        pytest.fail(f"`portico {' '.join(argv)}` is refused by portico's parser (exit {exc.code})")
    (args,) = seen
    return args


def test_every_part_has_a_serve_and_a_worker_service(compose):
    services = portico_services(compose)
    commands = {tuple(service["command"]) for service in services.values()}
    for part in parts.PARTS:
        assert ("serve", part) in commands, f"no service runs `serve {part}`"
        assert ("worker", part) in commands, f"no service runs `worker {part}`"
        assert services[part]["command"] == ["serve", part]
        assert services[f"{part}-worker"]["command"] == ["worker", part]


def test_every_command_is_one_portico_accepts(compose, monkeypatch):
    for name, service in portico_services(compose).items():
        command = service["command"]
        assert isinstance(command, list), f"{name}: write the command as a list"
        args = parse_with_cli(command, monkeypatch)
        assert args.command == command[0], name
        assert args.part in parts.PARTS, name
        assert args.part == command[1], name


def test_every_environment_variable_is_read_by_the_code(compose):
    known = set(code_variables()) | set(deploy_variables())
    for name, service in portico_services(compose).items():
        for variable in service["environment"]:
            assert is_known(variable, known, parts.PARTS), (
                f"{name}: {variable} is read nowhere in bus/, portico/, gateway/, services/ or deploy/"
            )


def test_each_part_gets_its_own_database_only(compose):
    for name, service in portico_services(compose).items():
        part = service["command"][1]
        env = service["environment"]
        own = f"PORTICO_{part.upper()}_DATABASE_URL"
        assert env.get(own, "").startswith("postgresql+psycopg://"), f"{name}: set {own}"
        assert env[own].endswith(f"/{part}"), f"{name}: {own} must name the database {part}"
        others = [v for v in env if v.endswith("_DATABASE_URL") and v != own]
        assert not others, f"{name} must not know other parts' databases: {others}"


def test_the_gateway_and_the_importer_know_where_the_services_are(compose):
    services = portico_services(compose)
    for name in ("gateway", "gateway-worker"):
        env = services[name]["environment"]
        for service in parts.SERVICES:
            assert env.get(f"PORTICO_{service.upper()}_URL") == f"http://{service}:8000", name
    for name in ("importer", "importer-worker"):
        assert services[name]["environment"].get("PORTICO_IDENTITY_URL") == "http://identity:8000"


def test_the_shared_settings_of_api_md_are_set_everywhere(compose):
    required = (
        "PORTICO_BROKER_URL",
        "PORTICO_SMTP_URL",
        "PORTICO_MAIL_FROM",
        "PORTICO_PUBLIC_URL",
        "PORTICO_SECRET_KEY",
        "PORTICO_OPERATOR_TOKEN",
        "PORTICO_SERVICE_TOKEN",
    )
    for name, service in portico_services(compose).items():
        missing = [v for v in required if v not in service["environment"]]
        assert not missing, f"{name} lacks {missing}"
        env = service["environment"]
        assert env["PORTICO_BROKER_URL"].startswith("amqp://"), name
        assert env["PORTICO_SMTP_URL"] == "smtp://mailpit:1025", name


def test_start_order_follows_health(compose):
    services = compose["services"]
    for part in parts.PARTS:
        serve = services[part]
        assert serve.get("healthcheck"), f"{part}: others wait for its health"
        for dependency in ("postgres", "rabbitmq"):
            assert serve["depends_on"][dependency]["condition"] == "service_healthy", part
        # the topology exists before anything publishes (deploy/README.md, "Deploying one part")
        assert (
            serve["depends_on"]["rabbitmq-definitions"]["condition"]
            == "service_completed_successfully"
        )
        # the worker starts once the serve container migrated and answers
        assert services[f"{part}-worker"]["depends_on"][part]["condition"] == "service_healthy"
    for service in parts.SERVICES:
        assert services["gateway"]["depends_on"][service]["condition"] == "service_healthy"
    assert services["rabbitmq"].get("healthcheck") and services["postgres"].get("healthcheck")


def test_the_gateway_alone_is_published_on_8000(compose):
    published = {
        name: service.get("ports", [])
        for name, service in portico_services(compose).items()
        if service.get("ports")
    }
    assert published == {"gateway": ["8000:8000"]}


def test_postgres_creates_one_database_per_part(compose):
    mounts = compose["services"]["postgres"]["volumes"]
    assert any(
        m.startswith("./deploy/postgres-init.sql:/docker-entrypoint-initdb.d/") for m in mounts
    )
    sql = (ROOT / "deploy" / "postgres-init.sql").read_text(encoding="utf-8")
    for part in parts.PARTS:
        assert f"CREATE DATABASE {part} " in sql, part


def test_mounted_files_exist(compose):
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def test_the_image_is_built_from_the_repository_root(compose):
    for name, service in portico_services(compose).items():
        assert service["build"]["context"] == ".", name
        assert Path(ROOT / service["build"]["dockerfile"]).is_file(), name


def test_the_broker_definitions_are_imported_from_deploy(compose):
    setup = compose["services"]["rabbitmq-definitions"]
    assert any(m.startswith("./deploy/rabbitmq-definitions.json:") for m in setup["volumes"])
    assert "import /etc/portico/rabbitmq-definitions.json" in " ".join(setup["command"])


def test_every_dollar_is_a_valid_interpolation():
    """Compose reads $NAME and ${NAME...}; a shell's $ must be written $$."""
    text = COMPOSE.read_text(encoding="utf-8")
    bad = [
        m.group(0)
        for m in re.finditer(r"\$(?!\$|\{[A-Z_][A-Z0-9_]*(:?[-?+][^}]*)?\})\S{0,12}", text)
        if not text[max(m.start() - 1, 0)] == "$"
    ]
    assert not bad, f"invalid interpolation in docker-compose.yml: {bad}"

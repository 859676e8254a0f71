"""deploy/prometheus and deploy/grafana agree with what Portico exports: the rules load
(`promtool check rules` when promtool is installed, else their YAML is checked), every process
of docker-compose.yml is scraped, and every metric an alert or a panel names is one a running
embedded portal serves on /metrics."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bus.config import PARTS
from portico.runtime import Embedded
from tests.unit.deploy.sources import ROOT

PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "portico-dashboard.json"
COMPOSE = ROOT / "docker-compose.yml"

# Series Prometheus makes itself, not Portico.
BUILT_IN = {"up"}
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")
NAME = re.compile(r"\b(portico_[a-z0-9_]+|up)\b")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The metric names every part of a running embedded portal serves on /metrics."""
    portal = Embedded(
        tmp_path_factory.mktemp("portal"), {"PORTICO_BUS_PREFIX": f"mon{uuid.uuid4().hex[:8]}"}
    )
    portal.build().start()
    names: set[str] = set()
    try:
        for name, app in portal.apps.items():
            response = app.test_client().get("/metrics")
            assert response.status_code == 200, f"{name}'s /metrics answered {response.status_code}"
            for family in text_string_to_metric_families(response.get_data(as_text=True)):
                names.add(family.name)
                names.update(sample.name for sample in family.samples)
    finally:
        portal.stop.set()
    return names


def family(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def named_in(expressions: list[str]) -> set[str]:
    return {name for expression in expressions for name in NAME.findall(expression)}


def alert_rules() -> list[dict]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def panel_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = dashboard["panels"]
    expressions = [t["expr"] for panel in panels for t in panel.get("targets", [])]
    expressions += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return expressions


def test_the_alert_rules_load() -> None:
    promtool = shutil.which("promtool")
    if promtool:
        result = subprocess.run(
            [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        result = subprocess.run(
            [promtool, "check", "config", str(PROMETHEUS)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return
    assert os.environ.get("CI") != "true", "CI installs promtool (.ci/run): it is missing"
    rules = alert_rules()
    assert rules
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
        assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"]) and rule["expr"].strip()
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule.get("for", "1m")[-1] in "smh"


def test_the_alerts_cover_what_an_operator_must_hear_of() -> None:
    expressions = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    assert "portico_outbox_oldest_age_seconds" in expressions["PorticoOutboxLag"]
    assert "portico_messages_dead_lettered_total" in expressions["PorticoDeadLetters"]
    assert 'status=~"5.."' in expressions["PorticoHttpErrorRate"]
    assert 'outcome="failed"' in expressions["PorticoMailsFailing"]
    assert "portico_ready" in expressions["PorticoPartNotReady"]


def test_every_metric_of_an_alert_or_a_panel_is_one_portico_exports(exported: set[str]) -> None:
    assert "portico_http_requests_total" in exported  # the portal was scraped
    named = named_in([rule["expr"] for rule in alert_rules()] + panel_expressions())
    known = exported | {family(name) for name in exported} | BUILT_IN
    unknown = sorted(name for name in named if name not in known and family(name) not in known)
    assert not unknown, (
        f"the alerts or the dashboard name metrics Portico does not export: {unknown}"
    )


def test_every_serve_and_worker_of_docker_compose_is_scraped_on_its_port() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    targets = {
        target: (job["job_name"], group["labels"]["portico_part"])
        for job in config["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    expected = {}
    for part in PARTS:
        assert compose[part]["command"] == ["serve", part]
        assert compose[f"{part}-worker"]["command"] == ["worker", part]
        expected[f"{part}:8000"] = ("portico-serve", part)
        expected[f"{part}-worker:9100"] = ("portico-worker", part)
    assert targets == expected
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert "PORTICO_METRICS_PORT=9100" in dockerfile and "PORTICO_BIND=0.0.0.0:8000" in dockerfile


def test_the_dashboard_is_grafana_json_on_a_chosen_prometheus() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 30
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]

"""/metrics of every part says what an operator scrapes: requests by route template, method and
status with their latency, messages by type and outcome, outbox rows waiting and the age of the
oldest, import jobs by status, e-mails waiting, readiness; Content-Type with one charset."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bus.config import Settings
from bus.envelope import Envelope
from portico.runtime import build_part, service_app

TOKEN = "s3cret-link-token-that-must-never-be-a-label"


def build(name: str, tmp_path: Path) -> Any:
    settings = Settings(
        part=name,
        database_url=f"sqlite:///{tmp_path}/{name}.db",
        broker_url="memory://",
        bus_prefix=f"m{uuid.uuid4().hex[:8]}",
    )
    part = build_part(name, settings)
    part.migrate()
    return part


def scrape(client: Any) -> tuple[Any, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """The response of GET /metrics, and its samples keyed by (name, sorted labels)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return response, samples


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def identity(tmp_path: Path) -> Any:
    part = build("identity", tmp_path)
    client = service_app(part).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {part.settings.service_token}"
    return part, client


def test_requests_are_counted_by_route_template_never_by_path(identity):
    part, client = identity
    route = "/internal/activations/<token>"
    timed = {"part": "identity", "route": route, "method": "GET"}
    unmatched = {"part": "identity", "route": "[unmatched]", "method": "GET", "status": "404"}
    _, before = scrape(client)  # the counters are the process's: other tests count too
    client.get(f"/internal/activations/{TOKEN}")
    client.get(f"/internal/activations/{TOKEN}")
    client.get("/no/such/path")

    response, samples = scrape(client)

    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.get_data(as_text=True)
    assert TOKEN not in text
    answered = [
        (labels, count)
        for (name, labels), count in samples.items()
        if name == "portico_http_requests_total"
        and ("route", route) in labels
        and ("part", "identity") in labels
        and ("method", "GET") in labels  # other tests of the process may have POSTed there
    ]
    assert answered, f"no portico_http_requests_total for {route}:\n{text}"
    counted = sum(count for _, count in answered)  # every status of the route's GETs
    counted_before = sum(
        count
        for (name, labels), count in before.items()
        if name == "portico_http_requests_total"
        and ("route", route) in labels
        and ("part", "identity") in labels
        and ("method", "GET") in labels
    )
    assert counted - counted_before == 2
    timings = "portico_http_request_seconds_count"
    assert (value(samples, timings, **timed) or 0) - (value(before, timings, **timed) or 0) == 2
    requests = "portico_http_requests_total"
    assert value(samples, requests, **unmatched) - (value(before, requests, **unmatched) or 0) == 1


def test_outbox_rows_waiting_and_the_age_of_the_oldest_are_read_at_scrape_time(identity):
    part, client = identity
    _, samples = scrape(client)
    assert value(samples, "portico_outbox_pending", part="identity") == 0
    assert value(samples, "portico_outbox_oldest_age_seconds", part="identity") == 0

    with part.engine.begin() as conn:
        conn.execute(
            part.outbox_table.insert().values(
                message_id=str(uuid.uuid4()),
                type="identity.account.created",
                body="{}",
                created_at=datetime.now(UTC) - timedelta(minutes=10),
            )
        )

    _, samples = scrape(client)
    assert value(samples, "portico_outbox_pending", part="identity") == 1
    assert value(samples, "portico_outbox_oldest_age_seconds", part="identity") >= 600
    assert value(samples, "portico_ready", part="identity", check="database") == 1


def test_dead_letters_are_counted_by_type_and_reason(identity):
    part, client = identity
    # A valid message identity has no handler for: dead-lettered at once as invalid.
    envelope = Envelope(type="bus.probe", data={"key": "k", "seq": 1}, producer="test")
    dead = {"part": "identity", "type": "bus.probe", "reason": "invalid"}
    consumed = {"part": "identity", "type": "bus.probe", "outcome": "dead"}
    _, before = scrape(client)

    assert part.processor().process(envelope.to_json()).kind == "dead"

    _, after = scrape(client)
    for name, labels in (
        ("portico_messages_dead_lettered_total", dead),
        ("portico_messages_consumed_total", consumed),
    ):
        assert (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0) == 1


def test_importer_tells_its_jobs_by_status_and_the_rows_processed(tmp_path):
    part = build("importer", tmp_path)
    _, samples = scrape(service_app(part).test_client())
    for status in ("queued", "running", "done", "failed"):
        assert value(samples, "portico_import_jobs", status=status) == 0
    assert value(samples, "portico_import_rows_processed_total") == 0
    assert value(samples, "portico_outbox_pending", part="importer") == 0


def test_notifications_tells_the_e_mails_waiting_and_failed(tmp_path):
    part = build("notifications", tmp_path)
    _, samples = scrape(service_app(part).test_client())
    assert value(samples, "portico_mails_waiting") == 0
    assert value(samples, "portico_mails_failed") == 0
    assert value(samples, "portico_mails_oldest_waiting_age_seconds") == 0


def test_a_worker_serves_the_same_metrics_on_its_own_port(tmp_path):
    import threading

    import httpx

    from portico.runtime import serve_ops

    part = build("subscriptions", tmp_path)
    stop = threading.Event()
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve_ops(part, "127.0.0.1", port, stop)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        stop.set()
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert 'portico_outbox_pending{part="subscriptions"} 0.0' in response.text
    assert 'portico_ready{check="database",part="subscriptions"} 1.0' in response.text

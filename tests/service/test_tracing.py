"""One trace for "an administrator creates a user": the gateway's request, its call to identity,
the events across the bus, subscriptions' handler and notifications' handlers, all spans of one
trace (embedded mode, the SDK's in-memory exporter). No span names a raw path or holds a token."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bus import tracing
from tests.security.real_portal import Portal, start_portal
from tests.waiting_kit import eventually


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.install(provider)
    yield spans
    tracing.uninstall()
    provider.shutdown()


@pytest.fixture
def portal(tmp_path, prefix, exporter) -> Iterator[Portal]:
    started = start_portal(tmp_path, prefix)
    yield started
    started.stop()


def create_user(portal: Portal) -> tuple[dict[str, Any], str]:
    admin = portal.admin()
    account = portal.accounts(admin)["90293531"]
    email = f"traced-{uuid.uuid4().hex[:10]}@retail-it.example"
    body = {
        "email": email,
        "title": "M",
        "last_name": "Martin",
        "first_name": "Paul",
        "language": "en-GB",
        "password_level": 2,
    }
    created = portal.client.post(f"/api/v1/accounts/{account}/users", json=body, headers=admin)
    assert created.status_code == 201, created.get_json()
    return created.get_json(), email


def chain(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    """The span and its ancestors, up to the root (or the first parent not exported)."""
    found = [span]
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        found.append(span)
    return found


def where(span: ReadableSpan) -> tuple[str, str]:
    return str(span.attributes.get("portico.part", "")), span.kind.name


def test_one_trace_from_the_gateway_to_notifications_when_an_administrator_creates_a_user(
    portal, exporter
):
    exporter.clear()
    user, email = create_user(portal)

    request = next(
        s
        for s in exporter.get_finished_spans()
        if where(s) == ("gateway", "SERVER") and s.name.startswith("POST /api/v1/accounts/")
    )
    trace_id = request.context.trace_id
    assert request.name == "POST /api/v1/accounts/<account_id>/users"  # the route, not the path

    def notified_through_subscriptions() -> list[ReadableSpan]:
        spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
        by_id = {s.context.span_id: s for s in spans}
        for span in spans:
            if where(span) == ("notifications", "CONSUMER"):
                path = chain(span, by_id)
                if ("subscriptions", "CONSUMER") in [where(s) for s in path]:
                    return path
        return []

    path = eventually(
        notified_through_subscriptions,
        what="a notifications handler in the trace of the request, after a subscriptions handler",
    )
    path.reverse()  # from the request down to notifications' handler
    steps = [where(s) for s in path]
    # gateway → identity (HTTP) → bus → subscriptions → bus → notifications, parent to child
    assert steps[0] == ("gateway", "SERVER"), steps
    expected = [
        ("gateway", "SERVER"),
        ("", "CLIENT"),
        ("identity", "SERVER"),
        ("identity", "PRODUCER"),
        ("subscriptions", "CONSUMER"),
        ("subscriptions", "PRODUCER"),
        ("notifications", "CONSUMER"),
    ]
    assert steps == expected, [s.name for s in path]
    assert path[-1].name.startswith("notifications handle subscriptions.")
    assert path[1].attributes["portico.service"] == "identity"

    # identity's own events reach notifications in the same trace: the activation e-mail
    eventually(
        lambda: any(
            s.name == "notifications handle identity.link.issued"
            for s in exporter.get_finished_spans()
            if s.context.trace_id == trace_id
        ),
        what="notifications handling the activation link in the request's trace",
    )
    in_trace = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
    for span in in_trace:
        text = span.name + " " + " ".join(str(v) for v in span.attributes.values())
        assert email not in text and user["id"] not in span.name


def test_tracing_is_off_without_an_otlp_endpoint(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert tracing.configure_from_env("portico-identity") is False
    assert not tracing.enabled()
    assert tracing.with_trace('{"id":"x"}', None) == '{"id":"x"}'


def test_an_otlp_endpoint_turns_tracing_on(monkeypatch):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    try:
        assert tracing.configure_from_env("portico-identity", env) is True
        assert tracing.enabled()
    finally:
        tracing.uninstall()


def test_a_row_keeps_its_trace_and_the_relay_publishes_the_envelope_alone():
    body = '{"id":"1","data":{"a":"}"}}'
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    kept = tracing.with_trace(body, traceparent)
    assert tracing.split_trace(kept) == (body, traceparent)
    assert tracing.split_trace(body) == (body, None)


def test_over_rabbitmq_the_traceparent_header_links_the_handler_to_the_publisher(
    amqp_url, prefix, tmp_path, exporter
):
    """The relay's batched publisher (py-amqp, publisher confirms) carries the row's trace as
    the message's traceparent header; the consumer's span is a child of the producer's."""
    from tests.bus_kit import count_effects, make_probe_part, start

    instance, effects = make_probe_part("identity", f"sqlite:///{tmp_path}/p.db", amqp_url, prefix)
    instance.declare()
    tracer = tracing.tracer()
    assert tracer is not None
    with tracer.start_as_current_span("a request") as request:
        with instance.uow() as uow:
            uow.publish("bus.probe", {"key": "traced", "seq": 1})
            uow.commit()
    stop = start(instance)
    try:
        eventually(lambda: count_effects(instance, effects, "traced") == (1, 1), what="handled")

        def handled() -> ReadableSpan | None:
            return next(
                (s for s in exporter.get_finished_spans() if s.name == "identity handle bus.probe"),
                None,
            )

        consumer = eventually(handled, what="the consumer's span")
    finally:
        stop.set()
    spans = {s.context.span_id: s for s in exporter.get_finished_spans()}
    producer = spans[consumer.parent.span_id]
    assert producer.name == "publish bus.probe" and producer.kind.name == "PRODUCER"
    assert producer.parent.span_id == request.get_span_context().span_id
    assert consumer.context.trace_id == request.get_span_context().trace_id


def test_the_gateways_pooled_client_carries_the_trace_and_the_request_id(exporter):
    """The distributed gateway's calls take http.client, not httpx: they carry them too."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from flask import Flask, g

    from gateway.adapters.services import PooledServiceClient

    seen: list[dict[str, str]] = []

    class Service(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = json.dumps({"ok": True}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = PooledServiceClient(
        "identity", base_url=f"http://127.0.0.1:{server.server_port}", token="t" * 40
    )
    tracer = tracing.tracer()
    assert tracer is not None
    try:
        with (
            Flask("gateway-test").test_request_context("/"),
            tracer.start_as_current_span("the gateway's request") as request,
        ):
            g.request_id = "req-7"
            assert client.get("/internal/users/1") == {"ok": True}
    finally:
        server.shutdown()
    [headers] = seen
    trace_id = format(request.get_span_context().trace_id, "032x")
    assert headers["traceparent"].split("-")[1] == trace_id
    assert headers["x-portico-request-id"] == "req-7"

"""OpenTelemetry tracing: one trace from the gateway's request through the services' HTTP calls
and across the bus to the consumers' handlers.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set:
`configure_from_env` then exports spans by OTLP over HTTP (the standard OTEL_* variables apply),
or a test installs a provider (`install`, e.g. with the SDK's in-memory exporter). Off, every
helper here costs one check and records nothing.

Where the context goes: HTTP requests carry W3C `traceparent` headers (`server_span` around each
request of a part's app, `client_span` around each `ServiceClient` call). An event recorded in
the outbox keeps the `traceparent` of the span that recorded it in its row (`with_trace`); the
relay, later and in another thread, publishes it as the message's `traceparent` header
(`split_trace`), and the consumer handles the message inside a span of that trace
(`consumer_span`). No span holds a URL path or a message body: paths may hold link tokens.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

TRACEPARENT = "traceparent"
_TAIL = ',"traceparent":"'
_TAIL_ROOM = len(_TAIL) + 64  # the marker, a traceparent (55 characters) and the closing "}

_tracer: trace.Tracer | None = None


def install(provider: Any) -> None:
    """Trace with `provider` (an opentelemetry.sdk.trace.TracerProvider) from now on."""
    global _tracer
    _tracer = provider.get_tracer("portico")


def uninstall() -> None:
    """Stop tracing (tests)."""
    global _tracer
    _tracer = None


def enabled() -> bool:
    return _tracer is not None


def tracer() -> trace.Tracer | None:
    """The tracer Portico's spans are made with, None when tracing is off."""
    return _tracer


def configure_from_env(service_name: str, env: Mapping[str, str] | None = None) -> bool:
    """Export spans by OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; True when tracing is on.

    `service_name` (`portico-identity`, ...) names the process unless OTEL_SERVICE_NAME does.
    Call it in the process that serves (after gunicorn forked): the exporter's thread does not
    survive a fork.
    """
    env = os.environ if env is None else env
    endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    if not endpoint or env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = env.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    install(provider)
    return True


@contextmanager
def server_span(environ: Mapping[str, Any], part: str) -> Iterator[Any]:
    """The span of one HTTP request a part answers, child of the caller's `traceparent`.
    Named by method until the route is known (`name_server_span`)."""
    if _tracer is None:
        yield None
        return
    carrier = {
        TRACEPARENT: environ.get("HTTP_TRACEPARENT", ""),
        "tracestate": environ.get("HTTP_TRACESTATE", ""),
    }
    method = str(environ.get("REQUEST_METHOD", "GET"))
    with _tracer.start_as_current_span(
        f"{method} {part}",
        context=propagate.extract({k: v for k, v in carrier.items() if v}),
        kind=SpanKind.SERVER,
        attributes={"portico.part": part, "http.request.method": method},
    ) as span:
        yield span


def name_server_span(span: Any, method: str, route: str, status: int) -> None:
    """Name the request's span by its route template (never the path) and record the status."""
    if span is None:
        return
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


@contextmanager
def client_span(service: str, method: str, headers: dict[str, str]) -> Iterator[Any]:
    """The span of one call to a service's internal API; adds `traceparent` to `headers`."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(
        f"{method} {service}",
        kind=SpanKind.CLIENT,
        attributes={"portico.service": service, "http.request.method": method},
    ) as span:
        propagate.inject(headers)
        yield span


def inject(headers: dict[str, str]) -> None:
    """Add the current trace's `traceparent` to `headers` (nothing when tracing is off)."""
    if _tracer is not None:
        propagate.inject(headers)


@contextmanager
def producer_span(part: str, types: list[str]) -> Iterator[str | None]:
    """A short span for events recorded in the outbox; yields the `traceparent` their rows keep
    (None when tracing is off). Outside any trace (a periodic job), a trace starts here."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(
        f"publish {types[0]}" if len(set(types)) == 1 else f"publish {len(types)} events",
        kind=SpanKind.PRODUCER,
        attributes={
            "portico.part": part,
            "messaging.system": "rabbitmq",
            "messaging.destination.name": types[0],
            "messaging.batch.message_count": len(types),
        },
    ):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield carrier.get(TRACEPARENT)


@contextmanager
def consumer_span(part: str, envelope: Any, traceparent: str | None) -> Iterator[Any]:
    """The span of one message handled by a part, child of the span that recorded it."""
    if _tracer is None:
        yield None
        return
    parent = propagate.extract({TRACEPARENT: traceparent}) if traceparent else None
    with _tracer.start_as_current_span(
        f"{part} handle {envelope.type}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "portico.part": part,
            "messaging.system": "rabbitmq",
            "messaging.destination.name": envelope.type,
            "messaging.message.id": envelope.id,
            "messaging.message.conversation_id": envelope.correlation_id or "",
        },
    ) as span:
        yield span


def with_trace(body: str, traceparent: str | None) -> str:
    """An outbox row's body: the envelope's JSON, with the `traceparent` to publish it under."""
    if not traceparent:
        return body
    return f'{body[:-1]}{_TAIL}{traceparent}"}}'


def split_trace(body: str) -> tuple[str, str | None]:
    """(the envelope's JSON, its traceparent or None) from an outbox row's body."""
    at = body.rfind(_TAIL, max(0, len(body) - _TAIL_ROOM))
    if at < 0 or not body.endswith('"}'):
        return body, None
    return body[:at] + "}", body[at + len(_TAIL) : -2]


def current_ids() -> tuple[str | None, str | None]:
    """(trace id, span id) in hex of the current span, or (None, None) outside a trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None, None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")

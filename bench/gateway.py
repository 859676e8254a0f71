"""The gateway's composition and overhead, distributed mode (gunicorn, 2 gthread workers × 4
threads per part, as `portico serve` runs them).

1. GET /api/v1/me/dashboard of an administrator (2 downstream calls, one per service, fanned out at once):
   p50 and p99 one request at a time, beside the slowest of those calls made directly against
   its service's internal endpoint with the service token (same query, same actor headers),
   timed in alternating rounds; target p50 ≤ 1.25 × that call's p50 + 1 ms. Each round also
   makes the 2 calls directly and at once from the bench (one thread and keep-alive connection
   each, no gateway): that fan-out's p50 is the floor of any composition of these calls on this
   machine (the services share its cores), reported beside the bound. Throughput and latency
   under CLIENTS concurrent clients are reported too.
2. GET /api/v1/me requests per second under CLIENTS concurrent clients, each with its own
   session of its own user (profiles cold at the start), beside a bare Flask hello-world under
   the same gunicorn settings (2 gthread workers × 4 threads, access log, graceful timeout), in
   alternating rounds, twice:
   - `gateway_me_per_s`: the profile kept on each session (30 s) answers, as for a person who
     reloads a page; target ≥ 0.6× bare;
   - `gateway_me_uncached_per_s`: the gateway restarted with PORTICO_PROFILE_CACHE_SECONDS=0, so
     every request asks identity's GET /internal/users/{id}; reported beside that call made
     directly at the same concurrency (no target).
   The details carry sequential p50s of the gateway's floor (GET /api/v1/accounts: session and
   projection only): where the time goes.

The cluster is that of tests/e2e/harness.py, on PORTICO_TEST_AMQP_URL / PORTICO_TEST_DATABASE_URL.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from bench.common import Result, median, percentile
from bench.signin import Bench, active_users, hammer, load_average, sign_in, start_cluster

CLIENTS = int(os.environ.get("BENCH_GATEWAY_CLIENTS", "8"))
ROUNDS = int(os.environ.get("BENCH_GATEWAY_ROUNDS", "5"))
PER_ROUND = int(os.environ.get("BENCH_GATEWAY_PER_ROUND", "40"))  # sequential requests per endpoint
SECONDS = float(os.environ.get("BENCH_GATEWAY_SECONDS", "4"))  # per throughput round
THREADS = int(os.environ.get("PORTICO_WEB_THREADS", "4"))  # what `portico serve` gives each worker


def hello_app() -> Any:
    """The bare baseline: a Flask app that answers a small JSON document (gunicorn factory)."""
    from flask import Flask, jsonify

    app = Flask("hello")

    @app.get("/")
    def hello() -> Any:
        return jsonify(hello="world")

    return app


class Hello:
    """gunicorn serving hello_app() exactly as `portico serve` runs a part."""

    def __init__(self, folder: Path) -> None:
        from tests.e2e.harness import WEB_WORKERS, free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "hello.log"
        env = {
            **os.environ,
            "GUNICORN_CMD_ARGS": "--no-control-socket",
            "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]),
        }
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(WEB_WORKERS),
                    "--threads",
                    str(THREADS),
                    "--access-logfile",
                    "-",
                    "--graceful-timeout",
                    "20",
                    "bench.gateway:hello_app()",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the hello-world gunicorn did not start:\n{self.log.read_text()[-2000:]}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(25)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def downstream_calls(bench: Bench) -> dict[str, tuple[str, dict[str, Any]]]:
    """The calls gateway/service_layer/dashboard.py makes for an administrator: name → (url, params)."""
    cluster, admin = bench.cluster, bench.admin
    user_id = admin["id"]
    since = {"since": admin["previous_sign_in_at"]} if admin.get("previous_sign_in_at") else {}
    identity, subscriptions = cluster.urls["identity"], cluster.urls["subscriptions"]
    return {
        "subscriptions /internal/users/{id}/dashboard": (
            f"{subscriptions}/internal/users/{user_id}/dashboard",
            since,
        ),
        "identity /internal/users/{id}/dashboard": (
            f"{identity}/internal/users/{user_id}/dashboard",
            {**since, "users": "1"},
        ),
    }


def timed(client: httpx.Client, url: str, params: dict[str, Any], headers: dict[str, str]) -> float:
    began = time.perf_counter()
    response = client.get(url, params=params, headers=headers)
    elapsed = (time.perf_counter() - began) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:300]}")
    return elapsed


class FanOut:
    """The dashboard's downstream calls made directly and at once: one thread and one keep-alive
    connection (stdlib http.client, the cheapest client at hand) per call."""

    def __init__(
        self, calls: dict[str, tuple[str, dict[str, Any]]], headers: dict[str, str]
    ) -> None:
        self.calls = list(calls.values())
        self.headers = headers
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(
            max_workers=len(self.calls), thread_name_prefix="bench-fan-out"
        )

    def _get(self, url: str, params: dict[str, Any]) -> None:
        parts = urlsplit(url)
        connections = self.local.__dict__.setdefault("connections", {})
        for attempt in (1, 2):
            connection = connections.get(parts.netloc)
            if connection is None:
                connection = connections[parts.netloc] = http.client.HTTPConnection(
                    parts.hostname, parts.port, timeout=30
                )
            try:
                connection.request(
                    "GET",
                    f"{parts.path}?{urlencode(params)}" if params else parts.path,
                    headers=self.headers,
                )
                response = connection.getresponse()
                body = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                # gunicorn closed the idle keep-alive connection (after 2 s): once more, on a new one
                connection.close()
                del connections[parts.netloc]
                if attempt == 2:
                    raise
        if response.status != 200:
            raise RuntimeError(f"GET {url}: {response.status} {body[:300]!r}")

    def timed(self) -> float:
        began = time.perf_counter()
        for future in [self.pool.submit(self._get, url, params) for url, params in self.calls]:
            future.result()
        return (time.perf_counter() - began) * 1000

    def close(self) -> None:
        self.pool.shutdown()


def direct_headers(bench: Bench) -> dict[str, str]:
    """What the gateway sends a service: the service token and who acts."""
    return {
        **bench.cluster.service_headers,
        "X-Portico-Actor": bench.admin["id"],
        "X-Portico-Actor-Account": bench.account["id"],
        "X-Portico-Request-Id": "bench-gateway",
    }


def sequential_latencies(
    bench: Bench,
) -> tuple[list[float], dict[str, list[float]], dict[str, list[float]], list[float]]:
    """Alternating rounds, one request at a time: the dashboard, then each downstream call direct,
    then the 2 calls direct and at once (the fan-out's floor); then, to show where the time goes,
    the gateway's floor (GET /api/v1/accounts: session and projection, no downstream call) and
    GET /api/v1/me beside its call to identity."""
    cluster, admin = bench.cluster, bench.admin
    headers = direct_headers(bench)
    calls = downstream_calls(bench)
    dashboard: list[float] = []
    direct: dict[str, list[float]] = {name: [] for name in calls}
    others = {
        "gateway GET /api/v1/accounts": (
            f"{cluster.gateway_url}/api/v1/accounts",
            bench.admin_headers,
        ),
        "gateway GET /api/v1/me": (f"{cluster.gateway_url}/api/v1/me", bench.admin_headers),
        "identity GET /internal/users/{id}": (
            f"{cluster.urls['identity']}/internal/users/{admin['id']}",
            headers,
        ),
    }
    diagnostics: dict[str, list[float]] = {name: [] for name in others}
    fan_out, fanned = FanOut(calls, headers), []
    with httpx.Client(timeout=30) as client:
        page = client.get(
            f"{cluster.gateway_url}/api/v1/me/dashboard", headers=bench.admin_headers
        ).json()
        broken = [
            name
            for name, panel in page.items()
            if isinstance(panel, dict) and panel.get("unavailable")
        ]
        if broken or "users" not in page:
            raise RuntimeError(
                f"the dashboard is degraded (panels {broken}, users panel {'users' in page}): {page}"
            )
        for _ in range(10):  # warm-up: every connection and first-use cost
            timed(client, f"{cluster.gateway_url}/api/v1/me/dashboard", {}, bench.admin_headers)
            for url, params in calls.values():
                timed(client, url, params, headers)
            for url, with_headers in others.values():
                timed(client, url, {}, with_headers)
            fan_out.timed()
        for _ in range(ROUNDS):
            for _ in range(PER_ROUND):
                dashboard.append(
                    timed(
                        client,
                        f"{cluster.gateway_url}/api/v1/me/dashboard",
                        {},
                        bench.admin_headers,
                    )
                )
            for name, (url, params) in calls.items():
                for _ in range(PER_ROUND):
                    direct[name].append(timed(client, url, params, headers))
            for _ in range(PER_ROUND):
                fanned.append(fan_out.timed())
            for name, (url, with_headers) in others.items():
                for _ in range(PER_ROUND // 2):
                    diagnostics[name].append(timed(client, url, {}, with_headers))
    fan_out.close()
    return dashboard, direct, diagnostics, fanned


def run() -> list[Result]:
    load_before = load_average()
    bench = start_cluster()
    hello = None
    try:
        active_users(bench, 3, activate_them=False)  # the users panel counts something
        dashboard, direct, diagnostics, fanned = sequential_latencies(bench)
        gateway_url, headers = bench.cluster.gateway_url, bench.admin_headers

        def get(path: str) -> Any:
            return lambda client, _index: client.get(path, headers=headers)

        under_load = hammer(gateway_url, CLIENTS, SECONDS * 2, get("/api/v1/me/dashboard"), 200)
        # one session per client, each of its own user: no client is answered from another's profile
        client_headers = [
            {"Authorization": f"Bearer {sign_in(bench.cluster, email)['token']}"}
            for email in active_users(bench, CLIENTS)
        ]

        def me(client: httpx.Client, index: int) -> Any:
            return client.get("/api/v1/me", headers=client_headers[index])

        hello = Hello(Path(bench.folder.name))
        hammer(hello.url, CLIENTS, 1.0, lambda client, _index: client.get("/"), 200)  # warm-up
        hammer(
            gateway_url, CLIENTS, 1.0, me, 200
        )  # the first request of each session fills its profile
        cached = me_rounds(bench, hello, me)
        use_no_profile_cache(bench)
        hammer(gateway_url, CLIENTS, 1.0, me, 200)  # warm-up of the restarted gateway
        uncached = me_rounds(bench, hello, me)
        load_after = load_average()
    finally:
        if hello is not None:
            hello.stop()
        bench.stop()

    per_call = {name: round(median(values), 3) for name, values in direct.items()}
    slowest = max(per_call, key=lambda name: per_call[name])
    p50, slowest_p50 = median(dashboard), median(direct[slowest])
    common = {
        "load_average_before": load_before,
        "load_average_after": load_after,
        "mode": f"distributed: gunicorn 2 gthread workers × {THREADS} threads per part + bus worker, "
        "RabbitMQ, PostgreSQL",
    }
    fan_out_p50 = median(fanned)
    composition = Result(
        "gateway_dashboard_p50",
        "ms",
        p50,
        f"p50 of the slowest downstream call direct ({slowest})",
        slowest_p50,
        "p50 ≤ 1.25 × slowest call + 1 ms",
        p50 <= 1.25 * slowest_p50 + 1,
        {
            **common,
            "rounds": ROUNDS,
            "requests_per_round": PER_ROUND,
            "p99_ms": round(percentile(dashboard, 99), 3),
            "slowest_call_p99_ms": round(percentile(direct[slowest], 99), 3),
            "downstream_p50_ms": per_call,
            "bound_ms": round(1.25 * slowest_p50 + 1, 3),
            "sum_of_downstream_p50_ms": round(sum(per_call.values()), 3),
            # the 2 calls direct and at once, no gateway: the floor of any composition of them here
            "direct_fan_out_p50_ms": round(fan_out_p50, 3),
            "direct_fan_out_p99_ms": round(percentile(fanned, 99), 3),
            "direct_fan_out_exceeds_bound": fan_out_p50 > 1.25 * slowest_p50 + 1,
            "gateway_over_direct_fan_out_p50_ms": round(p50 - fan_out_p50, 3),
            "sequential_p50_ms": {
                name: round(median(values), 3) for name, values in diagnostics.items()
            },
            "under_load_clients": CLIENTS,
            "under_load_per_s": round(under_load.rate, 2),
            "under_load_p50_ms": round(median(under_load.latencies_ms), 2),
            "under_load_p99_ms": round(percentile(under_load.latencies_ms, 99), 2),
            "under_load_errors": {str(k): v for k, v in under_load.errors.items()},
        },
    )
    overhead = Result(
        "gateway_me_per_s",
        "req/s",
        median(cached.me),
        "bare Flask hello-world, same gunicorn settings",
        median(cached.hello),
        "≥ 0.6× bare",
        median(cached.me) >= 0.6 * median(cached.hello) and not cached.errors,
        {
            **common,
            **cached.detail(),
            "profile": "kept on each session (PORTICO_PROFILE_CACHE_SECONDS=30)",
        },
    )
    uncached_overhead = Result(
        "gateway_me_uncached_per_s",
        "req/s",
        median(uncached.me),
        "identity GET /internal/users/{id} direct, same clients (the call each request makes)",
        median(uncached.identity),
        "none: reported beside the cached figure and identity's own rate",
        None,
        {**common, **uncached.detail(), "profile": "never kept (PORTICO_PROFILE_CACHE_SECONDS=0)"},
    )
    print(
        f"load average before {load_before}, after {load_after}; dashboard p50 {p50:.2f} ms, p99 "
        f"{composition.detail['p99_ms']} ms one at a time; under {CLIENTS} clients "
        f"{composition.detail['under_load_per_s']}/s, p50 {composition.detail['under_load_p50_ms']} ms, "
        f"p99 {composition.detail['under_load_p99_ms']} ms; direct p50s {per_call}; the 4 direct at once "
        f"p50 {fan_out_p50:.2f} ms (bound {composition.detail['bound_ms']} ms); one at a time "
        f"{composition.detail['sequential_p50_ms']}; GET /api/v1/me, {CLIENTS} sessions, profile kept "
        f"{cached.rounded(cached.me)}/s, never kept {uncached.rounded(uncached.me)}/s vs hello "
        f"{cached.rounded(cached.hello)}/s vs identity direct {uncached.rounded(uncached.identity)}/s",
        flush=True,
    )
    return [composition, overhead, uncached_overhead]


class MeRounds:
    """Alternating rounds of hello-world, GET /api/v1/me and identity's GET /internal/users/{id}."""

    def __init__(self) -> None:
        self.hello: list[float] = []
        self.me: list[float] = []
        self.identity: list[float] = []
        self.errors: dict[str, int] = {}

    @staticmethod
    def rounded(rates: list[float]) -> list[float]:
        return [round(rate, 1) for rate in rates]

    def detail(self) -> dict[str, Any]:
        return {
            "clients": CLIENTS,
            "sessions": CLIENTS,
            "rounds": ROUNDS,
            "seconds_per_round": SECONDS,
            "rates_per_round": self.rounded(self.me),
            "bare_rates_per_round": self.rounded(self.hello),
            "bare_per_s": round(median(self.hello), 1),
            "identity_users_id_direct_per_s": round(median(self.identity), 1),
            "identity_rates_per_round": self.rounded(self.identity),
            "errors": self.errors,
        }


def me_rounds(bench: Bench, hello: Hello, me: Any) -> MeRounds:
    identity_user = f"/internal/users/{bench.admin['id']}"
    headers_direct = direct_headers(bench)
    rounds = MeRounds()
    for _ in range(ROUNDS):
        rounds.hello.append(
            hammer(hello.url, CLIENTS, SECONDS, lambda client, _index: client.get("/"), 200).rate
        )
        load = hammer(bench.cluster.gateway_url, CLIENTS, SECONDS, me, 200)
        rounds.me.append(load.rate)
        rounds.identity.append(
            hammer(
                bench.cluster.urls["identity"],
                CLIENTS,
                SECONDS / 2,
                lambda client, _index: client.get(identity_user, headers=headers_direct),
                200,
            ).rate
        )
        for status, count in load.errors.items():
            rounds.errors[str(status)] = rounds.errors.get(str(status), 0) + count
    return rounds


def use_no_profile_cache(bench: Bench) -> None:
    """Restart the gateway's API processes with PORTICO_PROFILE_CACHE_SECONDS=0 (sessions are kept
    in its database: the clients' tokens still hold)."""
    cluster = bench.cluster
    cluster.stop_process("gateway-serve")
    cluster.processes["gateway-serve"].env["PORTICO_PROFILE_CACHE_SECONDS"] = "0"
    cluster.start_process("gateway-serve")

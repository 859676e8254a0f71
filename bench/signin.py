"""Successful sign-ins per second through the gateway, distributed mode, beside bare Argon2id.

The cluster of tests/e2e/harness.py: every part as its own processes (gunicorn, 2 workers per
part, and its bus worker) on RabbitMQ and PostgreSQL (PORTICO_TEST_AMQP_URL,
PORTICO_TEST_DATABASE_URL, as bench/env.py reads them). CLIENTS threads sign in as CLIENTS
activated users (one each) for ROUNDS rounds of SECONDS seconds. Baseline, same run: Argon2id
verifications with identity's parameters (m=19456 KiB, t=2, p=1) in 2 processes, timed in rounds
alternating with the sign-in rounds, so load from elsewhere on the machine weighs on both alike.
Target: ≥ 0.8× the bare rate (medians of the rounds). Each round also times identity's
POST /internal/sign-in called directly by the same clients (detail: where the time goes).

The floor of the hops, same rounds: a hello-world pair served as `portico serve` serves a part
(gunicorn gthread, 2 workers × THREADS threads, access log on): the same clients POST a sign-in
body to a "hop" app that forwards it with gateway.adapters.services.PooledServiceClient (the
gateway's client in the distributed mode) to a "leaf" app answering a user-sized JSON, and also
straight to the leaf. Everything shares the same
2 cores, so the CPU a request costs is 2 cores / its rate, and the best ratio this machine allows
with no work at all besides the hash is ceiling = t_verify / (t_verify + t_hops) =
hops_rate / (hops_rate + bare_rate), printed beside the result (two hops for the gateway path,
one hop for identity called directly). Identity's own work without the hash is timed too: sign-ins
of locked addresses (one per client), refused before any Argon2 after the same read and with an
audit row (identity_no_hash_*). And the hash itself served as the parts serve: a leaf that
verifies the password with identity's hasher before answering (floor_hash_one_hop_*), the bare
hash plus one trivial hop, with no database.

Rates move with whatever else the machine runs; CPU does not as much: each load's CPU ms per
answer is read from /proc for the serving process trees (gateway, identity, the floor's apps;
this process's own, "clients", is printed apart: it also counts the harness's threads, and
PostgreSQL's server is shared, so not counted), beside the CPU ms of a bare verification, and the ceiling they allow (cpu_ceiling_gateway_path: the bare
verification over the served hash plus the two trivial hops).

Also, one client at a time: the p50 latency of a sign-in with an unknown address beside one with
a wrong password for a known (activated) address, alternated; target within 10%. Fresh
addresses only: every unknown address is new, and no known address gets more than 4 failures
(identity locks at 5). The gateway's sign-in rate limits are raised for this cluster (see LIMITS);
their counters are still written on every attempt.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import Result, median, percentile
from bench.env import AMQP_URL, PG_URL

CLIENTS = int(os.environ.get("BENCH_SIGNIN_CLIENTS", "8"))
SECONDS = float(os.environ.get("BENCH_SIGNIN_SECONDS", "5"))  # per round
ROUNDS = int(os.environ.get("BENCH_SIGNIN_ROUNDS", "3"))
BARE_SECONDS = float(os.environ.get("BENCH_SIGNIN_BARE_SECONDS", "4"))  # per round
BARE_PROCESSES = 2
LATENCY_PAIRS = int(os.environ.get("BENCH_SIGNIN_LATENCY_PAIRS", "100"))
LOCK_THRESHOLD = 5  # identity's default (PORTICO_LOCK_THRESHOLD)
FAILURES_PER_KNOWN_ADDRESS = LOCK_THRESHOLD - 1  # no known address gets locked
PASSWORD = "Quartz!Meadow7River"
PROFILE = {"title": "M", "last_name": "Kilburn", "first_name": "Tom", "language": "en-GB"}
# Far above what the bench sends, so that no attempt is refused; the counters are still kept.
LIMITS = {
    "PORTICO_RATE_SIGN_IN_PER_IP": "1000000/60",
    "PORTICO_RATE_SIGN_IN_PER_EMAIL": "1000000/60",
}
WEB_WORKERS = 2  # as tests/e2e/harness.py starts every part
THREADS = int(os.environ.get("PORTICO_WEB_THREADS", "4"))  # as `portico serve` (gthread)
MODE = (
    f"distributed: gunicorn gthread {WEB_WORKERS} workers × {THREADS} threads per part + bus worker,"
    " RabbitMQ, PostgreSQL"
)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def process_tree(root: int) -> list[int]:
    """`root` and its descendants (a gunicorn master and its workers), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds these processes have used so far (/proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU ms per operation of named process trees over one load (machine-independent of the
    other load on the machine, unlike rates: a CPU-second is spent by these processes alone)."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.trees = {name: process_tree(pid) for name, pid in roots.items()}

    def measure(self, load: Callable[[], Load]) -> tuple[Load, dict[str, float]]:
        before = {name: cpu_seconds(pids) for name, pids in self.trees.items()}
        done = load()
        return done, {
            name: round(1000 * (cpu_seconds(pids) - before[name]) / done.ok, 2) if done.ok else 0.0
            for name, pids in self.trees.items()
        }


# --- the cluster and its people -----------------------------------------------------------------


@dataclass
class Bench:
    """A started cluster, with an account administered by a signed-in administrator."""

    cluster: Any
    folder: tempfile.TemporaryDirectory[str]
    account: dict[str, Any] = field(default_factory=dict)
    admin_headers: dict[str, str] = field(default_factory=dict)
    admin: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        try:
            self.cluster.stop()
        finally:
            self.folder.cleanup()


def start_cluster(env: dict[str, str] | None = None) -> Bench:
    from tests.e2e.harness import Cluster

    folder = tempfile.TemporaryDirectory(prefix="portico-bench-")
    cluster = Cluster(Path(folder.name), AMQP_URL, PG_URL, env=dict(env or {}))
    try:
        cluster.start()
    except BaseException:
        folder.cleanup()
        raise
    bench = Bench(cluster, folder)
    try:
        open_account(bench)
    except BaseException:
        bench.stop()
        raise
    return bench


def expect(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:500]}")
    return response.json() if response.content else {}


def activation_token(cluster: Any, email: str, after: int) -> str:
    mail = cluster.mail.wait_for_mail(
        to=email, subject_contains="Your account activation link", timeout=60, after=after
    )
    prefix = f"{cluster.gateway_url}/activate/"
    return next(link for link in mail.links if link.startswith(prefix)).removeprefix(prefix)


def activate(cluster: Any, email: str, token: str) -> dict[str, Any]:
    body = {
        **PROFILE,
        "function": None,
        "office_phone": None,
        "mobile_phone": None,
        "password": PASSWORD,
    }
    return expect(
        cluster.http.post(f"/api/v1/activations/{token}", json=body), 201, f"activation of {email}"
    )


def sign_in(cluster: Any, email: str) -> dict[str, Any]:
    return expect(
        cluster.http.post("/api/v1/session", json={"email": email, "password": PASSWORD}),
        201,
        f"sign-in of {email}",
    )


def open_account(bench: Bench) -> None:
    cluster = bench.cluster
    number = str(uuid.uuid4().int)[:12]
    bench.account = expect(
        cluster.http.post(
            "/api/v1/operator/accounts",
            json={"number": number, "name": "Bench Ltd"},
            headers=cluster.operator_headers,
        ),
        201,
        "account",
    )
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    before = len(cluster.mail)
    expect(
        cluster.http.post(
            f"/api/v1/operator/accounts/{number}/administrators",
            json={
                "email": email,
                **PROFILE,
                "title": "MME",
                "first_name": "Ada",
                "last_name": "Lovelace",
            },
            headers=cluster.operator_headers,
        ),
        201,
        "administrator",
    )
    bench.admin = activate(cluster, email, activation_token(cluster, email, before))
    sign_in(
        cluster, email
    )  # twice, so the session knows a previous sign-in (the dashboard's `since`)
    session = sign_in(cluster, email)
    bench.admin = session["user"]
    bench.admin_headers = {"Authorization": f"Bearer {session['token']}"}

    def administers() -> bool:
        answer = expect(
            cluster.http.get("/api/v1/accounts", headers=bench.admin_headers), 200, "accounts"
        )
        return any(item["id"] == bench.account["id"] for item in answer["items"])

    wait_for(administers, "the administration grant in the gateway's projection")


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not reached within {timeout:g}s")
        time.sleep(0.1)


def active_users(bench: Bench, count: int, activate_them: bool = True) -> list[str]:
    """`count` users created by the administrator, all at once, then activated (when asked)."""
    cluster = bench.cluster
    before = len(cluster.mail)
    emails = [f"user-{uuid.uuid4().hex[:10]}@example.com" for _ in range(count)]
    for email in emails:
        expect(
            cluster.http.post(
                f"/api/v1/accounts/{bench.account['id']}/users",
                headers=bench.admin_headers,
                json={"email": email, **PROFILE, "password_level": 2},
            ),
            201,
            f"user {email}",
        )
    if activate_them:
        for email in emails:
            activate(cluster, email, activation_token(cluster, email, before))
    return emails


# --- load ---------------------------------------------------------------------------------------


@dataclass
class Load:
    ok: int
    errors: dict[int, int]
    latencies_ms: list[float]
    seconds: float

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def hammer(
    base_url: str,
    clients: int,
    seconds: float,
    send: Callable[[httpx.Client, int], httpx.Response],
    ok: int,
) -> Load:
    """`clients` threads, each with its own keep-alive connection, sending until `seconds` pass."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: dict[int, int] = {}
    counts = [0] * clients
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = 0.0

    def run(index: int) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            start.wait()
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    status = send(client, index).status_code
                except httpx.HTTPError:
                    status = 0
                latencies[index].append((time.perf_counter() - began) * 1000)
                if status == ok:
                    counts[index] += 1
                else:
                    with lock:
                        errors[status] = errors.get(status, 0) + 1

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return Load(sum(counts), errors, [x for per in latencies for x in per], elapsed)


# --- the bare baseline --------------------------------------------------------------------------


def _bare_verifications(seconds: float) -> tuple[int, float]:
    """(verifications, CPU seconds) in `seconds`, one at a time, as one bare process does."""
    from services.identity.domain.hashing import Argon2Hasher  # m=19456, t=2, p=1, as identity

    hasher = Argon2Hasher()
    hashed = hasher.hash(PASSWORD)
    done = 0
    began = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        assert hasher.verify(hashed, PASSWORD)
        done += 1
    return done, time.process_time() - began


def bare_rate(pool: Any, seconds: float) -> tuple[float, float]:
    """(verifications per second, CPU ms per verification) of BARE_PROCESSES processes."""
    counts = pool.map(_bare_verifications, [seconds] * BARE_PROCESSES)
    done = sum(n for n, _ in counts)
    return done / seconds, 1000 * sum(cpu for _, cpu in counts) / done if done else 0.0


# --- the floor of the hops: hello-world apps served as the parts are ---------------------------

LEAF_ANSWER = {
    "user": {
        name: f"{name}-value-of-some-length"
        for name in (
            "id",
            "account_id",
            "email",
            "title",
            "last_name",
            "first_name",
            "language",
            "function",
            "office_phone",
            "mobile_phone",
            "status",
            "source",
            "created_by",
            "created_at",
            "activated_at",
            "last_sign_in_at",
            "previous_sign_in_at",
            "locked_until",
        )
    },
    "password_change_required": False,
}


def floor_app(forward_to: str = "", verify: bool = False, concurrency: int | None = None) -> Any:
    """gunicorn's `bench.signin:floor_app()` (the leaf) or `floor_app('http://...')` (the hop);
    `floor_app(verify=True)`: the leaf verifies the password with identity's Argon2id hasher
    first (the hash behind one trivial hop: all a sign-in must cost, with no database), at most
    `concurrency` at once per process (identity's PORTICO_HASH_CONCURRENCY; None: no limit, its
    default)."""
    from flask import Flask, jsonify, request

    from gateway.adapters.services import PooledServiceClient
    from services.identity.domain.hashing import Argon2Hasher

    app = Flask("bench-floor")
    client = PooledServiceClient("leaf", base_url=forward_to, token="bench") if forward_to else None
    hasher = Argon2Hasher(concurrency=concurrency) if verify else None
    hashed = hasher.hash(PASSWORD) if hasher else ""

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.post("/sign-in")
    def sign_in_view() -> Any:
        body = request.get_json()
        if client is None:
            if hasher is not None and not hasher.verify(hashed, body["password"]):
                return jsonify(status="wrong"), 401
            return jsonify(LEAF_ANSWER), 200
        return jsonify(client.post("/sign-in", json=body)), 201

    return app


class FloorServers:
    """The leaf and the hop, each its own gunicorn (the settings of `portico serve`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []
        self.pids: dict[str, int] = {}
        self.leaf_url = self._start("leaf", "bench.signin:floor_app()")
        self.hop_url = self._start("hop", f"bench.signin:floor_app({self.leaf_url!r})")
        self.hash_leaf_url = self._start("hash_leaf", "bench.signin:floor_app(verify=True)")
        self.one_hash_leaf_url = self._start(
            "one_hash_leaf", "bench.signin:floor_app(verify=True, concurrency=1)"
        )

    def _start(self, name: str, app: str) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        log = open(self.folder / f"floor-{name}.log", "wb")  # noqa: SIM115 - kept open for the process
        root = Path(__file__).resolve().parent.parent
        self.processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(WEB_WORKERS),
                    "--threads",
                    str(THREADS),
                    "--access-logfile",
                    "-",
                    "--graceful-timeout",
                    "5",
                    app,
                ],
                cwd=root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        self.pids[name] = self.processes[-1].pid
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, f"the floor's {name} app")
        return url

    def stop(self) -> None:
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def ceiling(hops_rate: float, bare: float) -> float:
    """t_verify / (t_verify + t_hops) with t = 2 cores / rate."""
    return hops_rate / (hops_rate + bare) if hops_rate and bare else float("nan")


# --- the measures -------------------------------------------------------------------------------


def failure_latencies(
    bench: Bench, known: list[str]
) -> tuple[list[float], list[float], dict[str, int]]:
    """Alternated, one at a time: (unknown address, wrong password of a known address) in ms."""
    cluster = bench.cluster
    attempts = [email for email in known for _ in range(FAILURES_PER_KNOWN_ADDRESS)]
    unknown, wrong, answers = [], [], {}

    def timed(email: str) -> float:
        began = time.perf_counter()
        response = cluster.http.post(
            "/api/v1/session", json={"email": email, "password": "Not-the-password-1"}
        )
        elapsed = (time.perf_counter() - began) * 1000
        answers[str(response.status_code)] = answers.get(str(response.status_code), 0) + 1
        if response.status_code != 401:
            raise RuntimeError(
                f"a failed sign-in of {email} answered {response.status_code}: {response.text}"
            )
        return elapsed

    for _ in range(3):  # warm-up: connections, first-use costs
        timed(f"warm-{uuid.uuid4().hex[:10]}@example.com")
    for index in range(min(LATENCY_PAIRS, len(attempts))):
        pair = [
            ("unknown", f"nobody-{uuid.uuid4().hex[:10]}@example.com"),
            ("wrong", attempts[index]),
        ]
        for kind, email in pair if index % 2 == 0 else reversed(pair):
            (unknown if kind == "unknown" else wrong).append(timed(email))
    return unknown, wrong, answers


def run() -> list[Result]:
    load_before = load_average()
    bench = start_cluster(LIMITS)
    try:
        known = active_users(bench, max(CLIENTS, -(-LATENCY_PAIRS // FAILURES_PER_KNOWN_ADDRESS)))
        unknown, wrong, answers = failure_latencies(bench, known)
        users = known[:CLIENTS]
        # A sign-in succeeds again after failures (the throttle restarts), so the same users serve here.

        def send(client: httpx.Client, index: int) -> httpx.Response:
            return client.post(
                "/api/v1/session", json={"email": users[index], "password": PASSWORD}
            )

        hammer(bench.cluster.gateway_url, CLIENTS, 1.0, send, 201)  # warm-up
        identity = bench.cluster.urls["identity"]

        def send_direct(client: httpx.Client, index: int) -> httpx.Response:
            return client.post(
                f"{identity}/internal/sign-in",
                headers=bench.cluster.service_headers,
                json={
                    "email": users[index],
                    "password": PASSWORD,
                    "ip": "127.0.0.1",
                    "user_agent": "bench",
                },
            )

        def send_floor(client: httpx.Client, index: int) -> httpx.Response:
            return client.post("/sign-in", json={"email": users[index], "password": PASSWORD})

        # Identity's work without the hash: a locked address is refused before any Argon2 (the
        # same read, an audit row). One address per client, locked by 5 failures beforehand.
        locked = [f"locked-{uuid.uuid4().hex[:10]}@example.com" for _ in range(CLIENTS)]
        with httpx.Client(timeout=30) as client:
            for email in locked:
                for _ in range(LOCK_THRESHOLD):
                    client.post(
                        f"{identity}/internal/sign-in",
                        headers=bench.cluster.service_headers,
                        json={"email": email, "password": "Not-the-password-1"},
                    )

        def send_locked(client: httpx.Client, index: int) -> httpx.Response:
            return client.post(
                f"{identity}/internal/sign-in",
                headers=bench.cluster.service_headers,
                json={
                    "email": locked[index],
                    "password": PASSWORD,
                    "ip": "127.0.0.1",
                    "user_agent": "bench",
                },
            )

        floor = FloorServers(Path(bench.folder.name))
        try:
            for url, ok in (
                (floor.hop_url, 201),
                (floor.leaf_url, 200),
                (floor.hash_leaf_url, 200),
                (floor.one_hash_leaf_url, 200),
            ):
                hammer(url, CLIENTS, 1.0, send_floor, ok)  # warm-up
            hammer(identity, CLIENTS, 1.0, send_locked, 423)
            servers = {
                name: bench.cluster.processes[f"{name}-serve"].popen.pid
                for name in ("gateway", "identity")
            }
            meter = CpuMeter({**servers, **floor.pids})

            def measured(
                url: str,
                seconds: float,
                sender: Callable[[httpx.Client, int], httpx.Response],
                ok: int,
                trees: tuple[str, ...],
            ) -> tuple[float, dict[str, float]]:
                """The rate, and the CPU ms per answer of `trees` and of this bench's clients."""
                client_before = time.process_time()
                done, ms = meter.measure(lambda: hammer(url, CLIENTS, seconds, sender, ok))
                per = {name: ms[name] for name in trees}
                if done.ok:
                    per["clients"] = round(
                        1000 * (time.process_time() - client_before) / done.ok, 2
                    )
                return done.rate, per

            ctx = multiprocessing.get_context("spawn")
            bare_rates, bare_cpu, loads, cpu = [], [], [], {}
            direct_rates: list[float] = []
            two_hops: list[float] = []
            one_hop: list[float] = []
            hash_hop: list[float] = []
            one_hash_hop: list[float] = []
            no_hash: list[float] = []

            def keep(what: str, per: dict[str, float]) -> None:
                cpu.setdefault(what, []).append(per)

            with ctx.Pool(BARE_PROCESSES) as pool:
                bare_rate(pool, 0.5)  # warm-up: the processes are up and have imported argon2
                for _ in range(ROUNDS):
                    rate, verify_ms = bare_rate(pool, BARE_SECONDS)
                    bare_rates.append(rate)
                    bare_cpu.append(verify_ms)
                    client_before = time.process_time()
                    load, per = meter.measure(
                        lambda: hammer(bench.cluster.gateway_url, CLIENTS, SECONDS, send, 201)
                    )
                    loads.append(load)
                    keep(
                        "gateway_path",
                        {
                            "gateway": per["gateway"],
                            "identity": per["identity"],
                            "clients": round(
                                1000 * (time.process_time() - client_before) / max(load.ok, 1), 2
                            ),
                        },
                    )
                    for kind, kept, run_ in (
                        (
                            "identity_direct",
                            direct_rates,
                            (identity, send_direct, 200, ("identity",)),
                        ),
                        ("two_hops", two_hops, (floor.hop_url, send_floor, 201, ("hop", "leaf"))),
                        ("one_hop", one_hop, (floor.leaf_url, send_floor, 200, ("leaf",))),
                        (
                            "hash_one_hop",
                            hash_hop,
                            (floor.hash_leaf_url, send_floor, 200, ("hash_leaf",)),
                        ),
                        (
                            "hash_one_hop_one_at_a_time",
                            one_hash_hop,
                            (floor.one_hash_leaf_url, send_floor, 200, ("one_hash_leaf",)),
                        ),
                        ("identity_no_hash", no_hash, (identity, send_locked, 423, ("identity",))),
                    ):
                        url, sender, ok, trees = run_
                        rate, per = measured(url, BARE_SECONDS, sender, ok, trees)
                        kept.append(rate)
                        keep(kind, per)
        finally:
            floor.stop()
        load_after = load_average()
    finally:
        bench.stop()

    rates = [load.rate for load in loads]
    latencies = [x for load in loads for x in load.latencies_ms]
    errors: dict[str, int] = {}
    for load in loads:
        for status, count in load.errors.items():
            errors[str(status)] = errors.get(str(status), 0) + count
    ours, bare = median(rates), median(bare_rates)
    common = {
        "load_average_before": load_before,
        "load_average_after": load_after,
        "rate_limits": f"raised for this cluster: {LIMITS} (defaults 20/60 per IP, 10/60 per e-mail)",
        "mode": MODE,
    }
    direct, hops2, hops1, bare_work = (
        median(direct_rates),
        median(two_hops),
        median(one_hop),
        median(no_hash),
    )
    best, best_direct = ceiling(hops2, bare), ceiling(hops1, bare)
    # CPU ms per answer from /proc (steady when other load comes and goes), medians of the rounds
    cpu_ms = {
        kind: {name: round(median([r[name] for r in rounds_]), 2) for name in rounds_[0]}
        for kind, rounds_ in cpu.items()
    }
    # the servers' CPU (this process's, "clients", also counts the cluster's harness threads)
    spent = {
        kind: round(sum(ms for name, ms in per.items() if name != "clients"), 2)
        for kind, per in cpu_ms.items()
    }
    verify_ms = median(bare_cpu)
    hashed_hop = median(hash_hop)
    # the hash served as the parts serve (gthread 2 × THREADS, CLIENTS at once) less the hop
    verify_served_ms = spent["hash_one_hop"] - spent["one_hop"]
    # the same, one hash at a time per process (PORTICO_HASH_CONCURRENCY=1): what a limit saves
    verify_one_ms = spent["hash_one_hop_one_at_a_time"] - spent["one_hop"]
    # the best the gateway path can do: the served hash, one hop, and the second hop's cost
    cpu_best = verify_ms / (spent["hash_one_hop"] + spent["two_hops"] - spent["one_hop"])
    throughput = Result(
        "signin_per_s",
        "sign-ins/s",
        ours,
        f"bare Argon2id verify, m=19456 t=2 p=1, {BARE_PROCESSES} processes",
        bare,
        "≥ 0.8× bare",
        bool(bare) and ours >= 0.8 * bare and not errors,
        {
            **common,
            "clients": CLIENTS,
            "rounds": ROUNDS,
            "seconds_per_round": SECONDS,
            "bare_seconds_per_round": BARE_SECONDS,
            "rates_per_round": [round(r, 2) for r in rates],
            "bare_rates_per_round": [round(r, 2) for r in bare_rates],
            # where the time goes: identity's own endpoint, called directly by the same clients
            "identity_direct_per_s": round(median(direct_rates), 2),
            "identity_direct_rates_per_round": [round(r, 2) for r in direct_rates],
            "identity_direct_ratio": round(direct / bare, 3) if bare else None,
            # each round beside the bare rate of the same round (steadier when the load moves)
            "ratios_per_round": [
                round(r / b, 3) if b else None for r, b in zip(rates, bare_rates, strict=True)
            ],
            "identity_direct_ratios_per_round": [
                round(r / b, 3) if b else None
                for r, b in zip(direct_rates, bare_rates, strict=True)
            ],
            # the floor: hello-world apps with the settings of the parts, on the same cores
            "floor_two_hops_per_s": round(hops2, 2),
            "floor_two_hops_rates_per_round": [round(r, 2) for r in two_hops],
            "floor_one_hop_per_s": round(hops1, 2),
            "floor_one_hop_rates_per_round": [round(r, 2) for r in one_hop],
            # identity's own work without the hash (a locked address: read, audit row, 423)
            "identity_no_hash_per_s": round(bare_work, 2),
            "identity_no_hash_rates_per_round": [round(r, 2) for r in no_hash],
            "identity_no_hash_cpu_ms": round(2000 / bare_work, 2) if bare_work else None,
            "hop_cpu_ms_two_hops": round(2000 / hops2, 2) if hops2 else None,
            "hop_cpu_ms_one_hop": round(2000 / hops1, 2) if hops1 else None,
            "verify_cpu_ms": round(2000 / bare, 2) if bare else None,
            # the hash behind one trivial hop (the leaf verifies with identity's hasher)
            "floor_hash_one_hop_per_s": round(hashed_hop, 2),
            "floor_hash_one_hop_rates_per_round": [round(r, 2) for r in hash_hop],
            "floor_hash_one_hop_ratio": round(hashed_hop / bare, 3) if bare else None,
            # CPU ms per answer, from /proc: the serving process trees and this bench's clients
            # (PostgreSQL's is not counted: its server is shared with the machine's other work)
            "cpu_ms_per_answer": cpu_ms,
            "cpu_ms_per_answer_total": spent,
            "verify_cpu_ms_bare": round(verify_ms, 2),
            "verify_cpu_ms_served": round(verify_served_ms, 2),
            "verify_cpu_ms_served_one_at_a_time": round(verify_one_ms, 2),
            "floor_hash_one_hop_one_at_a_time_rates_per_round": [round(r, 2) for r in one_hash_hop],
            "cpu_ratio_gateway_path": round(verify_ms / spent["gateway_path"], 3),
            "cpu_ratio_identity_direct": round(verify_ms / spent["identity_direct"], 3),
            "cpu_ceiling_gateway_path": round(cpu_best, 3),
            "ceiling_ratio": round(best, 3),
            "ceiling_ratio_identity_direct": round(best_direct, 3),
            "share_of_ceiling": round(ours / (best * bare), 3) if bare else None,
            "identity_direct_share_of_ceiling": round(direct / (best_direct * bare), 3)
            if bare
            else None,
            "sign_ins": sum(load.ok for load in loads),
            "errors": errors,
            "latency_p50_ms": round(median(latencies), 2),
            "latency_p99_ms": round(percentile(latencies, 99), 2),
        },
    )
    p50_unknown, p50_wrong = median(unknown), median(wrong)
    spread = abs(p50_unknown - p50_wrong) / p50_wrong if p50_wrong else float("nan")
    timing = Result(
        "signin_unknown_vs_wrong_p50",
        "ms",
        p50_unknown,
        "p50 wrong password, known address",
        p50_wrong,
        "within 10%",
        spread <= 0.10,
        {
            **common,
            "pairs": len(unknown),
            "difference_percent": round(spread * 100, 2),
            "unknown_p90_ms": round(percentile(unknown, 90), 2),
            "wrong_p90_ms": round(percentile(wrong, 90), 2),
            "unknown_mean_ms": round(statistics.fmean(unknown), 2),
            "wrong_mean_ms": round(statistics.fmean(wrong), 2),
            "answers": answers,
            "fresh_addresses": f"every unknown address new; ≤ {FAILURES_PER_KNOWN_ADDRESS} failures per known one",
        },
    )
    d = throughput.detail
    print(
        f"load average before {load_before}, after {load_after}; sign-in rounds {d['rates_per_round']}"
        f" vs bare {d['bare_rates_per_round']}; identity direct {d['identity_direct_rates_per_round']};"
        f" floor two hops {d['floor_two_hops_rates_per_round']}, one hop {d['floor_one_hop_rates_per_round']};"
        f" identity without the hash {d['identity_no_hash_rates_per_round']};"
        f" errors {errors}",
        flush=True,
    )
    print(
        f"ratios per round: through the gateway {d['ratios_per_round']}, identity direct"
        f" {d['identity_direct_ratios_per_round']}",
        flush=True,
    )
    print(
        f"sign-in {ours:.1f}/s = {throughput.ratio:.2f}× bare {bare:.1f}/s; the hops alone cost"
        f" {d['hop_cpu_ms_two_hops']} ms of CPU (two) / {d['hop_cpu_ms_one_hop']} ms (one) beside"
        f" {d['verify_cpu_ms']} ms per verification, so the ceiling is {best:.2f}× through the gateway"
        f" (reached {d['share_of_ceiling']:.0%} of it) and {best_direct:.2f}× for identity direct"
        f" ({direct:.1f}/s = {d['identity_direct_ratio']:.2f}×, {d['identity_direct_share_of_ceiling']:.0%} of it);"
        f" identity's work without the hash (one hop included) {d['identity_no_hash_cpu_ms']} ms",
        flush=True,
    )
    print(
        f"CPU ms per answer (/proc; servers' total after '=', PostgreSQL not counted): sign-in through the gateway"
        f" {cpu_ms['gateway_path']} = {spent['gateway_path']}, identity direct"
        f" {cpu_ms['identity_direct']}, identity without the hash {cpu_ms['identity_no_hash']};"
        f" bare verification {verify_ms:.2f} ms, served behind one trivial hop"
        f" {cpu_ms['hash_one_hop']} (the hash alone {verify_served_ms:.2f} ms, every thread hashing"
        f" at once; {verify_one_ms:.2f} ms one at a time per process); trivial hops:"
        f" one {cpu_ms['one_hop']}, two {cpu_ms['two_hops']}",
        flush=True,
    )
    print(
        f"by CPU: through the gateway {d['cpu_ratio_gateway_path']:.2f}× bare, identity direct"
        f" {d['cpu_ratio_identity_direct']:.2f}×; ceiling with the hash served as the parts serve"
        f" and two trivial hops {cpu_best:.2f}× (by rate, the hash behind one hop"
        f" {hashed_hop:.1f}/s = {d['floor_hash_one_hop_ratio']:.2f}×)",
        flush=True,
    )
    return [throughput, timing]

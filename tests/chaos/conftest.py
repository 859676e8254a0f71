"""Chaos fixtures: a two-replica cluster per test module, and which load-and-fault run is collected.

PORTICO_CHAOS picks the run: unset or `short` (`make test`, CI) runs the short one (its size is
in tests/chaos/test_chaos.py), `full` the full one (`make test-chaos`: 20 users, at least 3
minutes), `off` neither (nor the scale-out tests, which need the two-replica cluster). The
reconnect and projection-race tests always run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.chaos.cluster import ChaosCluster
from tests.e2e.harness import ClusterError

RUNS = ("short", "full", "off")


def chaos_run() -> str:
    """`short` unless PORTICO_CHAOS says `full` or `off`."""
    run = os.environ.get("PORTICO_CHAOS", "").strip().lower() or "short"
    if run not in RUNS:
        raise pytest.UsageError(f"PORTICO_CHAOS={run!r}: write short, full or off")
    return run


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = chaos_run()
    unwanted = {"full": {"chaos_short"}, "short": {"chaos_full"}}.get(
        run, {"chaos_short", "chaos_full"}
    )
    kept, dropped = [], []
    for item in items:
        marked = any(item.get_closest_marker(name) for name in unwanted) or (
            run == "off" and "chaos_cluster" in getattr(item, "fixturenames", ())
        )
        (dropped if marked else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# Per module, not per session: a session-wide cluster stayed up (some 40 PostgreSQL connections)
# through every later test of the run, which then met "too many clients".
@pytest.fixture(scope="module")
def chaos_cluster(
    amqp_url: str, pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChaosCluster]:
    started = ChaosCluster(tmp_path_factory.mktemp("chaos"), amqp_url, pg_admin_url)
    try:
        started.start()
    except ClusterError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield started
    started.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test shows the last lines of every process's log."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call" and report.failed:
        cluster = getattr(item, "funcargs", {}).get("chaos_cluster")
        if isinstance(cluster, ChaosCluster):
            report.sections.append(("cluster logs", cluster.logs(40)))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos_short: the chaos test's short run (make test, CI)")
    config.addinivalue_line("markers", "chaos_full: the chaos test's full run (make test-chaos)")

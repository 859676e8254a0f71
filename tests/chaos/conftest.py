"""Chaos fixtures: a two-replica cluster per test module; the load-and-fault runs only when asked.

`make test-chaos` sets PORTICO_CHAOS=full (20 users, at least 3 minutes); PORTICO_CHAOS=short runs
the short one. Without it (`make test`, CI) neither load run is collected: the short run was green
in two whole-suite runs and red in a third on this 2-core machine, so it does not gate CI yet. The
reconnect and projection-race tests always run; the scale-out tests share the two-replica
cluster and run with the load runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.chaos.cluster import ChaosCluster
from tests.e2e.harness import ClusterError


def chaos_run() -> str:
    return os.environ.get("PORTICO_CHAOS", "").lower()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unwanted = {"full": {"chaos_short"}, "short": {"chaos_full"}}.get(
        chaos_run(), {"chaos_short", "chaos_full"}
    )
    kept, dropped = [], []
    for item in items:
        marked = any(item.get_closest_marker(name) for name in unwanted) or (
            not chaos_run() and "chaos_cluster" in getattr(item, "fixturenames", ())
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

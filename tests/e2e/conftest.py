"""End-to-end fixtures: the `cluster` (every part as its own processes) and its logs on failure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import Cluster, ClusterError


@pytest.fixture(scope="session")
def cluster(
    amqp_url: str, pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """One cluster for the session; tests keep to their own accounts and e-mail addresses."""
    started = Cluster(tmp_path_factory.mktemp("cluster"), amqp_url, pg_admin_url)
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
        cluster = getattr(item, "funcargs", {}).get("cluster")
        if isinstance(cluster, Cluster):
            report.sections.append(("cluster logs", cluster.logs()))

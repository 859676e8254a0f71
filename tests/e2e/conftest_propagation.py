"""Plugin: the propagation-lag check of test_propagation_histogram.py runs after every journey.

The `cluster` fixture is session-scoped, so every e2e module shares one cluster; the check reads
what the journeys made the gateway apply, so it must come last. Wired by `pytest_plugins` in
the journey modules: whenever a journey is collected, the check is collected too (even when
only the journey files are named on the command line) and moved to the end of the run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHECK = Path(__file__).with_name("test_propagation_histogram.py")
JOURNEYS = ("test_identity_journey.py", "test_subscription_propagation.py")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    checks = [item for item in items if item.path == CHECK]
    journeys = [
        item for item in items if item.path.name in JOURNEYS and item.path.parent == CHECK.parent
    ]
    if journeys and not checks:
        module_parent = journeys[0].getparent(pytest.Module)
        assert module_parent is not None and module_parent.parent is not None
        directory = module_parent.parent  # tests/e2e: its conftest's fixtures (cluster) apply
        for collector in directory.ihook.pytest_collect_file(file_path=CHECK, parent=directory):
            checks.extend(node for node in collector.collect() if isinstance(node, pytest.Item))
    items[:] = [item for item in items if item.path != CHECK] + checks

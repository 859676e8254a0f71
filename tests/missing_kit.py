"""What a test does when a tool it needs is missing: a loud skip on a workstation, a failure under CI=true."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(message: str) -> None:
    """Skip loudly, or fail when CI counts the test (a skip there would hide that it never ran)."""
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(f"SKIPPED LOUDLY — {message}")


def require_tools(*tools: str) -> None:
    """Each command must be on PATH (`.ci/run` installs them)."""
    for tool in tools:
        if shutil.which(tool) is None:
            missing(f"the {tool} command is not installed (`.ci/run` installs it)")

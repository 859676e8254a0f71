"""The image installs the built package (`pip install .`, not an editable checkout): every file the
parts need at run time — migrations, templates, data files — must be inside the wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bus", "portico", "gateway", "services")
NOT_NEEDED_AT_RUN_TIME = (".md",)


def test_the_wheel_holds_every_file_of_the_parts(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("SKIPPED LOUDLY — git is not installed")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path / "dist"),
         str(clone)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("portico-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())

    tracked = subprocess.run(["git", "ls-files", *PACKAGES], cwd=clone, capture_output=True, text=True,
                             check=True).stdout.split()
    needed = [path for path in tracked if not path.endswith(NOT_NEEDED_AT_RUN_TIME)]
    assert needed, "git ls-files found nothing"
    missing = sorted(path for path in needed if path not in inside)
    assert not missing, (
        "files the image would lack (add them to [tool.setuptools.package-data] in pyproject.toml): "
        + ", ".join(missing)
    )
    for name in ("identity", "subscriptions", "notifications", "importer"):
        assert any(p.startswith(f"services/{name}/migrations/versions/") for p in inside), name
    assert any(p.startswith("gateway/migrations/versions/") for p in inside)

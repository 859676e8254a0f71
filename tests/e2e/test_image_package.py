"""The image installs the built package (`pip install .`, not an editable checkout): every file the
parts need at run time — migrations, templates, data files — must be inside the wheel.

No Docker engine is needed: the wheel is built from a fresh clone and installed into a fresh venv,
whose `portico` command then answers --help and migrates every part from the installed files."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.missing_kit import require_tools

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bus", "portico", "gateway", "services")
NOT_NEEDED_AT_RUN_TIME = (".md",)


PARTS = ("identity", "subscriptions", "notifications", "importer", "gateway")


def test_the_wheel_holds_every_file_of_the_parts(tmp_path):
    require_tools("git")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(clone),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("portico-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())

    tracked = subprocess.run(
        ["git", "ls-files", *PACKAGES], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.split()
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
    installed_and_run(wheel, tmp_path)


def installed_and_run(wheel: Path, tmp_path: Path) -> None:
    """Install the wheel alone into a fresh venv (its dependencies seen from this venv's site-packages,
    without this checkout's editable hooks) and use its `portico` command from an empty folder."""
    fresh = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False).create(fresh)
    fresh_python = fresh / "bin" / "python"
    site = Path(
        subprocess.run(
            [fresh_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # a path line in a .pth file adds the folder, but the .pth files inside it (the editable hooks
    # that point at this checkout) are not run: only the wheel's copy of Portico can be imported
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(fresh_python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PORTICO_") and k not in ("PYTHONPATH",)
    }
    where = subprocess.run(
        [fresh_python, "-c", "import portico, bus, gateway; print(portico.__file__)"],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.returncode == 0, where.stderr[-3000:]
    assert Path(where.stdout.strip()).is_relative_to(site), (
        f"Portico imported from {where.stdout.strip()}"
    )
    helped = subprocess.run(
        [fresh / "bin" / "portico", "--help"],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert helped.returncode == 0, helped.stderr[-3000:]
    assert "serve" in helped.stdout and "worker" in helped.stdout and "migrate" in helped.stdout
    for part in PARTS:
        url = f"sqlite:///{tmp_path / (part + '.db')}"
        migrated = subprocess.run(
            [fresh / "bin" / "portico", "migrate", part],
            cwd=run_dir,
            capture_output=True,
            text=True,
            timeout=120,
            env={**env, f"PORTICO_{part.upper()}_DATABASE_URL": url},
        )
        assert migrated.returncode == 0, (
            f"portico migrate {part} from the wheel: {migrated.stderr[-3000:]}"
        )
        assert (tmp_path / (part + ".db")).stat().st_size > 0, part

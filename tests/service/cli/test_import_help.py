"""`portico import --help` names every environment variable the command reads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import portico.importcli

READS = re.compile(r"""env\.get\(\s*"(PORTICO_[A-Z_]+)"\s*\)""")


def test_import_help_names_every_variable_the_command_reads():
    read = set(READS.findall(Path(portico.importcli.__file__).read_text()))
    assert {"PORTICO_GATEWAY_URL", "PORTICO_IMPORT_EMAIL", "PORTICO_OPERATOR_TOKEN"} <= read

    shown = subprocess.run(
        [sys.executable, "-m", "portico.cli", "import", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout

    assert sorted(name for name in read if name not in shown) == []
    assert "http://127.0.0.1:8000" in shown  # the default a user gets without the setting

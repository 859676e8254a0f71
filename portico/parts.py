"""Where each part's bootstrap and app factory live; the launcher's only map of the system.

The list of the parts is bus.config's (PARTS, SERVICES), named here for the launcher's callers.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from bus.config import PARTS, SERVICES

__all__ = ["PARTS", "SERVICES", "api", "bootstrap"]


def package(name: str) -> str:
    """The part's package: `gateway`, or `services.<name>`."""
    return "gateway" if name == "gateway" else f"services.{name}"


def bootstrap(name: str) -> ModuleType:
    return importlib.import_module(f"{package(name)}.bootstrap")


def api(name: str) -> ModuleType:
    return importlib.import_module(f"{package(name)}.entrypoints.api")

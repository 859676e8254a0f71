"""Where each part's bootstrap and app factory live; the launcher's only map of the system."""

from __future__ import annotations

import importlib
from types import ModuleType

SERVICES = ("identity", "subscriptions", "notifications", "importer")
PARTS = (*SERVICES, "gateway")


def bootstrap(name: str) -> ModuleType:
    if name == "gateway":
        return importlib.import_module("gateway.bootstrap")
    return importlib.import_module(f"services.{name}.bootstrap")


def api(name: str) -> ModuleType:
    if name == "gateway":
        return importlib.import_module("gateway.entrypoints.api")
    return importlib.import_module(f"services.{name}.entrypoints.api")

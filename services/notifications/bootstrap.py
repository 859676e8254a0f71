"""Builds the notifications service's dependencies once and hands them to its API and worker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from threading import Event

from bus.config import Settings
from bus.part import Part
from services.notifications.adapters import orm
from services.notifications.service_layer.handlers import EVENT_HANDLERS

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings) -> Part:
    return Part(settings, orm.metadata, EVENT_HANDLERS, MIGRATIONS)


def jobs(part: Part) -> list[Callable[[Event], None]]:
    """Periodic work the worker runs beside its consumer."""
    return []

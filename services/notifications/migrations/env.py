"""Alembic environment of the notifications service: its own tables only."""

from bus.migrations_env import run
from services.notifications.adapters.orm import metadata

run(metadata)

"""Alembic environment of the subscriptions service: its own tables only."""

from bus.migrations_env import run
from services.subscriptions.adapters.orm import metadata

run(metadata)

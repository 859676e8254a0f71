"""Alembic environment of the identity service: its own tables only."""

from bus.migrations_env import run
from services.identity.adapters.orm import metadata

run(metadata)

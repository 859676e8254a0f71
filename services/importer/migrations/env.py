"""Alembic environment of the importer service: its own tables only."""

from bus.migrations_env import run
from services.importer.adapters.orm import metadata

run(metadata)

"""Alembic environment of the gateway: sessions, rate limits and projections."""

from bus.migrations_env import run
from gateway.adapters.orm import metadata

run(metadata)

"""pending_events: the events of a caller's own writes, waited for before their next call

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 21:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=120), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "service"),
    )
    with op.batch_alter_table("pending_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_events_actor"), ["actor"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_pending_events_recorded_at"), ["recorded_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("pending_events")

"""import_jobs.reason_code, reason_params, reason_messages: a failed job's reason in every
language the portal speaks

A failed job keeps its reason's stable code, its params and its text in English and French
(reason_messages, {"en": ..., "fr": ...}); `reason` stays the English text. Jobs that failed
before have none of the three: their reason is shown in English, code import.failed
(docs/api.md, "Import anomalies").

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reason_params", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("reason_messages", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_column("reason_messages")
        batch_op.drop_column("reason_params")
        batch_op.drop_column("reason_code")

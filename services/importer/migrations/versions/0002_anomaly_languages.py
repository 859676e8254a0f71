"""import_anomalies.code, params, messages: an anomaly in every language the portal speaks

An anomaly keeps its stable code, its params and its text in English and French (messages,
{"en": ..., "fr": ...}); `message` stays the English text. Rows written before have none of
the three: they are shown in English (docs/api.md, "Import anomalies").

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 03:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_anomalies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("messages", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_anomalies", schema=None) as batch_op:
        batch_op.drop_column("messages")
        batch_op.drop_column("params")
        batch_op.drop_column("code")

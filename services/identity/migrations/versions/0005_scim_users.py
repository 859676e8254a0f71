"""users.version (the SCIM ETag, bumped by every write of the row); audit_log.source holds a
SCIM token's name ("scim:<name>")

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 23:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column(
            "source",
            existing_type=sa.String(length=16),
            type_=sa.String(length=120),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column(
            "source",
            existing_type=sa.String(length=120),
            type_=sa.String(length=16),
            existing_nullable=False,
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("version")

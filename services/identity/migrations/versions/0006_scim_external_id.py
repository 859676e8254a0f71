"""users.external_id: the id the account's directory knows a user by (SCIM externalId)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
        batch_op.create_index(
            "ix_users_account_external_id", ["account_id", "external_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_account_external_id")
        batch_op.drop_column("external_id")

"""how a session was signed in (RFC 8176 amr), kept on the session and on the codes it gives

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 23:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amr", sa.String(40), nullable=False, server_default="pwd"))
    with op.batch_alter_table("oidc_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amr", sa.String(40), nullable=False, server_default="pwd"))


def downgrade() -> None:
    with op.batch_alter_table("oidc_codes", schema=None) as batch_op:
        batch_op.drop_column("amr")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("amr")

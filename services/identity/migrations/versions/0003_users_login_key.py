"""users' login key: every spelling of an address is one login (bus.login.login_key)

Adds users.login_key, fills it from each user's e-mail, and makes it unique. Two users whose
addresses are spellings of one address (e.g. one typed with full-width letters) would share a
login: the migration then stops and names them, to be resolved (change or delete one address)
before migrating again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 20:50:00
"""

import sqlalchemy as sa
from alembic import op

from bus.login import counting_key

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("login_key", sa.String(length=254), nullable=True))
    users = sa.table(
        "users",
        sa.column("id", sa.String),
        sa.column("email", sa.String),
        sa.column("login_key", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(users.c.id, users.c.email).where(users.c.email.is_not(None)).order_by(users.c.id)
    ).all()
    holders: dict[str, list[str]] = {}
    keys = []
    for user_id, email in rows:
        # Every stored address has a login key (it was checked when stored); counting_key only
        # keeps an address from another time readable rather than failing here.
        key = counting_key(email)[:254]
        holders.setdefault(key, []).append(f"{email} (user {user_id})")
        keys.append({"b_id": user_id, "b_key": key})
    shared = {key: who for key, who in holders.items() if len(who) > 1}
    if shared:
        lines = "\n".join(f"  {key}: " + ", ".join(who) for key, who in sorted(shared.items()))
        raise RuntimeError(
            "These users' addresses are one login (the same address spelt differently):\n"
            f"{lines}\nChange or delete all but one address of each line, then migrate again."
        )
    update = (
        users.update()
        .where(users.c.id == sa.bindparam("b_id"))
        .values(login_key=sa.bindparam("b_key"))
    )
    for start in range(0, len(keys), _BATCH):
        connection.execute(update, keys[start : start + _BATCH])
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index("ux_users_login_key", ["login_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ux_users_login_key")
        batch_op.drop_column("login_key")

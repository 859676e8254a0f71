"""Who may reach what, read from the projections (never from a service on the request path).

Administrator of A = holds an accepted, unexpired administration service of A.
Supervisor of C = holds the supervision service of C (a third-party associate of the
caller's account). Reach = the accounts one administers or supervises; supervision is not
transitive (a shop of a supervised subsidiary needs its own supervision service, held in the
subsidiary's catalog).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.adapters.orm import accounts, holdings
from gateway.domain.holdings import is_effective, parse_day


@dataclass(frozen=True)
class Access:
    user_id: str
    account_id: str
    administers: frozenset[str] = field(default_factory=frozenset)
    supervises: frozenset[str] = field(default_factory=frozenset)

    @property
    def reach(self) -> frozenset[str]:
        return self.administers | self.supervises

    @property
    def is_administrator(self) -> bool:
        """Administrator of the caller's own account."""
        return self.account_id in self.administers

    def role_in(self, account_id: str) -> str | None:
        if account_id in self.administers:
            return "administrator"
        if account_id in self.supervises:
            return "supervisor"
        return None


def effective_condition(today: date | Any) -> Any:
    """SQL: the holding is accepted and unexpired on `today` (a date, or a bound parameter)."""
    return sa.and_(
        holdings.c.status == "accepted",
        sa.or_(holdings.c.expires_on.is_(None), holdings.c.expires_on >= today),
    )


def access_of(conn: Connection, user_id: str, account_id: str, today: date) -> Access:
    rows = conn.execute(
        sa.select(holdings.c.administers_account_id, holdings.c.supervises).where(
            holdings.c.user_id == user_id,
            holdings.c.administers_account_id.is_not(None),
            effective_condition(today),
        )
    ).all()
    administers = frozenset(r.administers_account_id for r in rows if not r.supervises)
    supervises = frozenset(r.administers_account_id for r in rows if r.supervises)
    return Access(user_id, account_id, administers, supervises)


def accounts_in_reach(conn: Connection, access: Access) -> list[dict[str, Any]]:
    """The accounts of the caller's reach, own account first, then by client number."""
    if not access.reach:
        return []
    rows = conn.execute(sa.select(accounts).where(accounts.c.id.in_(access.reach))).mappings().all()
    found = {row["id"]: dict(row) for row in rows}
    listed = []
    for account_id in access.reach:
        row = found.get(account_id) or {
            "id": account_id,
            "number": None,
            "name": None,
            "parent_id": None,
            "relation": None,
        }
        row.pop("applied_event_id", None)
        listed.append({**row, "role": access.role_in(account_id)})
    listed.sort(key=lambda a: (a["id"] != access.account_id, a["number"] or "", a["id"]))
    return listed


def account_by_id(conn: Connection, account_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(accounts).where(accounts.c.id == account_id)).mappings().first()
    return dict(row) if row else None


@dataclass(frozen=True)
class GateState:
    """What the projection knows of the caller's holding of a gated service."""

    effective: bool
    status: str | None = None
    expires_on: date | None = None
    service_title: str | None = None


def gate_state(conn: Connection, user_id: str, gate: str, today: date) -> GateState:
    rows = conn.execute(
        sa.select(holdings.c.status, holdings.c.expires_on, holdings.c.service_title)
        .where(holdings.c.user_id == user_id, holdings.c.gates == gate)
        .order_by(holdings.c.occurred_at.desc())
    ).all()
    for row in rows:
        if is_effective(row.status, parse_day(row.expires_on), today):
            return GateState(True, row.status, parse_day(row.expires_on), row.service_title)
    if rows:
        row = rows[0]
        return GateState(False, row.status, parse_day(row.expires_on), row.service_title)
    return GateState(False)


# what "effective" needs of a holding: states_of turns these rows into subscription id → state
_STATES = sa.select(holdings.c.subscription_id, holdings.c.status, holdings.c.expires_on)
# every subscription of :user_id the projection holds (the dashboard's read, built once)
HOLDINGS_OF_USER = _STATES.where(holdings.c.user_id == sa.bindparam("user_id"))


def applied_states(
    conn: Connection, subscription_ids: list[str]
) -> dict[str, tuple[str, date | None]]:
    """(status, expires_on) of each of these subscriptions the projection holds, in one query."""
    if not subscription_ids:
        return {}
    rows = (
        conn.execute(_STATES.where(holdings.c.subscription_id.in_(subscription_ids)))
        .mappings()
        .all()
    )
    return states_of(rows)


def states_of(rows: Iterable[Mapping[Any, Any]]) -> dict[str, tuple[str, date | None]]:
    """subscription id → (status, expires_on) of holdings rows."""
    return {r["subscription_id"]: (r["status"], parse_day(r["expires_on"])) for r in rows}

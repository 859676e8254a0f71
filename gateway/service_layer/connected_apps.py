"""A user's connected applications (OWASP ASVS 4.0.3 V3.5.1): the portal's applications that hold
a grant for the user (a live refresh token of the OpenID Connect provider), and the user's own
revocation of one.

An application is listed while one of its sign-ins (a token family) for the user is alive:
not revoked, its refresh life not over, its current refresh token not rotated away. Revoking an
application revokes every family the user has with it: its refresh tokens and the access tokens
they gave stop at once (userinfo answers invalid_token, a refresh invalid_grant).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from bus.clock import as_utc
from bus.db import changed_rows
from bus.part import Part
from gateway.adapters.oidc_orm import oidc_clients, oidc_tokens


@dataclass(frozen=True)
class ConnectedApplication:
    client_id: str
    name: str
    scopes: tuple[str, ...]
    first_signed_in_at: datetime  # the oldest live sign-in's first token
    last_used_at: datetime  # the newest token issued (a sign-in or a refresh)
    sign_ins: int  # live token families


@dataclass(frozen=True)
class _Grant:
    """One token row of a user's live grant to a client."""

    name: str
    family_id: str
    scope: str
    issued_at: datetime


def _live(user_id: str, now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        oidc_tokens.c.user_id == user_id,
        oidc_tokens.c.revoked_at.is_(None),
        oidc_tokens.c.refresh_expires_at > now,
        oidc_tokens.c.refresh_hash.is_not(None),
    )


def connected_applications(part: Part, user_id: str) -> list[ConnectedApplication]:
    """The applications holding a live grant for the user, the most recently used first."""
    now = part.clock.now()
    held = (
        sa.select(oidc_tokens.c.family_id)
        .where(_live(user_id, now), oidc_tokens.c.rotated_at.is_(None))
        .scalar_subquery()
    )
    statement = (
        sa.select(
            oidc_tokens.c.client_id,
            oidc_clients.c.name,
            oidc_tokens.c.family_id,
            oidc_tokens.c.scope,
            oidc_tokens.c.issued_at,
        )
        .join(oidc_clients, oidc_clients.c.client_id == oidc_tokens.c.client_id)
        .where(_live(user_id, now), oidc_tokens.c.family_id.in_(held))
    )
    with part.engine.connect() as conn:
        rows = conn.execute(statement).all()
    by_client: dict[str, list[_Grant]] = {}
    for client_id, name, family_id, scope, issued_at in rows:
        by_client.setdefault(client_id, []).append(_Grant(name, family_id, scope, issued_at))
    found = [
        ConnectedApplication(
            client_id=client_id,
            name=group[0].name,
            scopes=tuple(sorted({scope for row in group for scope in row.scope.split()})),
            first_signed_in_at=as_utc(min(row.issued_at for row in group)),
            last_used_at=as_utc(max(row.issued_at for row in group)),
            sign_ins=len({row.family_id for row in group}),
        )
        for client_id, group in by_client.items()
    ]
    return sorted(found, key=lambda app: (app.last_used_at, app.client_id), reverse=True)


def disconnect_application(part: Part, user_id: str, client_id: str) -> bool:
    """Revoke every grant the user gave this application; False when it held none."""
    now = part.clock.now()
    with part.uow() as uow:
        revoked = uow.session.execute(
            oidc_tokens.update()
            .where(_live(user_id, now), oidc_tokens.c.client_id == client_id)
            .values(revoked_at=now)
        )
        uow.commit()
    return changed_rows(revoked) > 0

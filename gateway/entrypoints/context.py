"""What a request handler reaches for: the gateway's parts, the signed-in caller, their access."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app, g

from bus.http import Problem
from bus.http_client import ServiceClient
from bus.i18n import _l
from bus.part import Part
from gateway.adapters.backoffice import BackOffice
from gateway.config import GatewayConfig
from gateway.service_layer.access import Access, access_of
from gateway.service_layer.sessions import SessionInfo


@dataclass
class Gateway:
    """Everything the gateway's handlers share, built once per app."""

    part: Part
    clients: dict[str, ServiceClient]
    config: GatewayConfig
    backoffice: BackOffice
    executor: ThreadPoolExecutor

    def now(self) -> datetime:
        return self.part.clock.now()

    def today(self) -> date:
        return self.now().date()


@dataclass(frozen=True)
class Caller:
    session: SessionInfo
    via_cookie: bool

    @property
    def user_id(self) -> str:
        return self.session.user_id

    @property
    def account_id(self) -> str:
        return self.session.account_id


def gw() -> Gateway:
    return current_app.extensions["portico.gateway"]


def caller() -> Caller:
    found = g.get("caller")
    if found is None:  # a route outside the guarded prefix asked for a caller
        raise Problem(
            401,
            "Unauthorized",
            _l("Sign in first (POST /api/v1/session).", code="auth.required"),
        )
    return found


def access() -> Access:
    """The caller's administrator and supervisor rights, read once per request."""
    if "access" not in g:
        me = caller()
        with gw().part.engine.connect() as conn:
            g.access = access_of(conn, me.user_id, me.account_id, gw().today())
    return g.access

"""Content gated by services: invoices, products and contracts, planning, intervention reports.

The gate is read from the projection (an effective holding whose `gates` names the content).
A refusal says which service to ask for, or that an accepted subscription is still propagating.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from bus.http import Problem
from bus.http_client import ServiceUnavailable
from bus.i18n import _l
from gateway.domain.content import GATES, Gate
from gateway.domain.holdings import is_effective, parse_day
from gateway.entrypoints.context import caller, gw
from gateway.entrypoints.forward import as_page, service
from gateway.entrypoints.schemas import DocumentsPage, PageArgs
from gateway.service_layer.access import GateState, account_by_id, gate_state

blp = Blueprint("content", __name__, url_prefix="/api/v1", description="Content gated by services")


def accepted_elsewhere(gate: Gate, title: str) -> bool:
    """Does subscriptions already hold an accepted, unexpired subscription that opens `gate`?"""
    try:
        answer = service("subscriptions").get(
            f"/internal/users/{caller().user_id}/subscriptions",
            params={"status": "accepted", "per_page": 200},
        )
    except (ServiceUnavailable, Problem):
        return False
    for sub in as_page(answer)["items"]:
        svc = sub.get("service") or {}
        opens = (
            svc.get("gates") == gate.name
            or svc.get("code") == gate.service_code
            or svc.get("title") == title
        )
        if opens and is_effective(
            sub.get("status"), parse_day(sub.get("expires_on")), gw().today()
        ):
            return True
    return False


# What each gate shows, as a refusal names it.
WHAT = {
    "invoices": _l("invoices"),
    "products-and-contracts": _l("products and contracts"),
    "planning": _l("planning"),
    "intervention-reports": _l("intervention reports"),
}


def refusal(gate: Gate, state: GateState) -> Problem:
    title = state.service_title or gate.service_title
    what = WHAT.get(gate.path) or gate.path.replace("-", " ")
    detail: str
    if state.status == "accepted" and state.expires_on is not None:
        detail = _l(
            "Your subscription to the {title} expired on {day}; ask an administrator to renew it"
            " to see {what} again.",
            code="content.subscription_expired",
            title=title,
            day=state.expires_on.isoformat(),
            what=what,
        )
    elif accepted_elsewhere(gate, title):
        detail = _l(
            "Your subscription to the {title} is accepted but is still propagating to the portal;"
            " try again in a few moments.",
            code="content.propagating",
            title=title,
        )
    elif state.status == "pending":
        detail = _l(
            "Your request for the {title} is waiting for an administrator's validation; {what}"
            " will be shown once it is accepted.",
            code="content.request_pending",
            title=title,
            what=what,
        )
    else:
        detail = _l(
            "Seeing {what} needs the {title}: ask for it in My services"
            " (POST /api/v1/me/subscriptions) or ask one of your administrators"
            " (GET /api/v1/administrators).",
            code="content.service_needed",
            title=title,
            what=what,
        )
    return Problem(403, "Forbidden", detail, service=title)


def documents(gate: Gate, args: dict[str, Any]) -> dict[str, Any]:
    me, gateway = caller(), gw()
    with gateway.part.engine.connect() as conn:
        state = gate_state(conn, me.user_id, gate.name, gateway.today())
        account = account_by_id(conn, me.account_id)
    if not state.effective:
        raise refusal(gate, state)
    if account is None:  # the account tree has not caught up yet: ask its owner
        account = service("identity").get(f"/internal/accounts/{me.account_id}")
    account.pop("applied_event_id", None)
    found = gateway.backoffice.documents(gate.name, str(account.get("number")))
    start = (args["page"] - 1) * args["per_page"]
    return {
        "items": found[start : start + args["per_page"]],
        "page": args["page"],
        "per_page": args["per_page"],
        "total": len(found),
        "account": account,
        "service": state.service_title or gate.service_title,
    }


def _route(gate: Gate) -> None:
    def view(args):
        return documents(gate, args)

    view.__name__ = gate.name
    view.__doc__ = (
        f"The account's {gate.path.replace('-', ' ')}, for holders of the {gate.service_title}.\n\n"
        "403 names the service to ask for, or says the accepted subscription is still propagating."
    )
    blp.route(f"/{gate.path}", endpoint=gate.name, methods=["GET"])(
        blp.arguments(PageArgs, location="query", unknown="raise")(
            blp.response(200, DocumentsPage)(view)
        )
    )


for _gate in GATES:
    _route(_gate)

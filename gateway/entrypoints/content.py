"""Content gated by services: invoices, products and contracts, planning, intervention reports.

The gate is read from the projection (an effective holding whose `gates` names the content).
A refusal says which service to ask for, or that an accepted subscription is still propagating.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from bus.http import Problem
from bus.http_client import ServiceUnavailable
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


def refusal(gate: Gate, state: GateState) -> Problem:
    title = state.service_title or gate.service_title
    what = gate.path.replace("-", " ")
    if state.status == "accepted" and state.expires_on is not None:
        detail = (
            f"Your subscription to the {title} expired on {state.expires_on.isoformat()}; ask an "
            f"administrator to renew it to see {what} again."
        )
    elif accepted_elsewhere(gate, title):
        detail = (
            f"Your subscription to the {title} is accepted but is still propagating to the portal; "
            "try again in a few moments."
        )
    elif state.status == "pending":
        detail = (
            f"Your request for the {title} is waiting for an administrator's validation; {what} will "
            "be shown once it is accepted."
        )
    else:
        detail = (
            f"Seeing {what} needs the {title}: ask for it in My services (POST /api/v1/me/subscriptions) "
            "or ask one of your administrators (GET /api/v1/administrators)."
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

"""Administration: the accounts in the caller's reach, and each account's audit trail."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from bus.http_client import segment as q
from gateway.entrypoints.context import access, gw
from gateway.entrypoints.forward import as_page, service
from gateway.entrypoints.guards import require_reach
from gateway.entrypoints.schemas import AccountInReach, AuditEntry, PageArgs, page_of
from gateway.service_layer.access import accounts_in_reach

blp = Blueprint(
    "accounts",
    __name__,
    url_prefix="/api/v1/accounts",
    description="Administration: accounts the caller administers or supervises",
)
blp.before_request(require_reach)


@blp.route("")
class Accounts(MethodView):
    @blp.arguments(PageArgs, location="query", unknown="raise")
    @blp.response(200, page_of(AccountInReach, "AccountPage"))
    def get(self, args):
        """The accounts the caller administers (own) or supervises (third-party associates)."""
        with gw().part.engine.connect() as conn:
            found = accounts_in_reach(conn, access())
        start = (args["page"] - 1) * args["per_page"]
        return {
            "items": found[start : start + args["per_page"]],
            "page": args["page"],
            "per_page": args["per_page"],
            "total": len(found),
        }


@blp.route("/<account_id>/audit")
class Audit(MethodView):
    @blp.arguments(PageArgs, location="query", unknown="raise")
    @blp.response(200, page_of(AuditEntry, "AccountAuditPage"))
    def get(self, args, account_id):
        """Who did what in the account (administrators' actions, sign-ins), newest first."""
        answer = service("identity").get(f"/internal/accounts/{q(account_id)}/audit", params=args)
        return as_page(answer, args["page"], args["per_page"])

"""Administration of an account's catalog: settings of each service, and who holds it."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from gateway.entrypoints.accounts import q
from gateway.entrypoints.forward import as_page, propagation, service
from gateway.entrypoints.guards import require_reach
from gateway.entrypoints.schemas import (
    PageArgs,
    ServiceFilters,
    ServiceSchema,
    ServicesPatch,
    ServicesWritten,
    SubscriberSchema,
    page_of,
)

blp = Blueprint("account_services", __name__, url_prefix="/api/v1/accounts/<account_id>",
                description="Administration: the account's catalog and its settings")
blp.before_request(require_reach)


@blp.route("/services")
class Services(MethodView):
    @blp.arguments(ServiceFilters, location="query", unknown="raise")
    @blp.response(200, page_of(ServiceSchema, "AccountServicePage"))
    def get(self, args, account_id):  # type: ignore[no-untyped-def]
        """The whole catalog with its settings and subscriber counts."""
        answer = service("subscriptions").get(f"/internal/accounts/{q(account_id)}/services", params=args)
        return as_page(answer, args["page"], args["per_page"])

    @blp.arguments(ServicesPatch)
    @blp.response(200, ServicesWritten)
    def patch(self, body, account_id):  # type: ignore[no-untyped-def]
        """Set `requires_validation` and/or `auto_subscribe` on several services at once."""
        answer = service("subscriptions").patch(f"/internal/accounts/{q(account_id)}/services", json=body)
        event = propagation(answer)
        return {"items": as_page(answer)["items"], "propagation": event}


@blp.route("/services/<service_id>/subscribers")
class Subscribers(MethodView):
    @blp.arguments(PageArgs, location="query", unknown="raise")
    @blp.response(200, page_of(SubscriberSchema, "SubscriberPage"))
    def get(self, args, account_id, service_id):  # type: ignore[no-untyped-def]
        """Who holds the service: one call to subscriptions, one to identity for the whole page."""
        page = as_page(service("subscriptions").get(
            f"/internal/accounts/{q(account_id)}/services/{q(service_id)}/subscribers", params=args),
            args["page"], args["per_page"])
        page["items"] = join_users(account_id, page["items"])
        return page


def join_users(account_id: str, subscribers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each subscriber with the user's details, asked of identity in one call (`ids=`)."""
    ids = [str(s.get("user_id")) for s in subscribers if s.get("user_id")]
    users: dict[str, dict[str, Any]] = {}
    if ids:
        answer = service("identity").get(f"/internal/accounts/{q(account_id)}/users",
                                         params={"ids": ",".join(ids), "per_page": min(200, len(ids))})
        users = {str(u.get("id")): u for u in as_page(answer)["items"] if isinstance(u, dict)}
    joined = []
    for sub in subscribers:
        user = users.get(str(sub.get("user_id")), {})
        joined.append({**sub, **user, "id": sub.get("user_id"), "user_id": sub.get("user_id"),
                       "subscription_id": sub.get("subscription_id"),
                       "subscription_status": sub.get("status"), "expires_on": sub.get("expires_on")})
    return joined

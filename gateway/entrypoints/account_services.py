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

blp = Blueprint(
    "account_services",
    __name__,
    url_prefix="/api/v1/accounts/<account_id>",
    description="Administration: the account's catalog and its settings",
)
blp.before_request(require_reach)


@blp.route("/services")
class Services(MethodView):
    @blp.arguments(ServiceFilters, location="query", unknown="raise")
    @blp.response(200, page_of(ServiceSchema, "AccountServicePage"))
    def get(self, args, account_id):
        """The whole catalog with its settings and subscriber counts."""
        answer = service("subscriptions").get(
            f"/internal/accounts/{q(account_id)}/services", params=args
        )
        return as_page(answer, args["page"], args["per_page"])

    @blp.arguments(ServicesPatch)
    @blp.response(200, ServicesWritten)
    def patch(self, body, account_id):
        """Set `requires_validation` and/or `auto_subscribe` on several services at once."""
        answer = service("subscriptions").patch(
            f"/internal/accounts/{q(account_id)}/services", json=body
        )
        event = propagation(answer)
        return {"items": as_page(answer)["items"], "propagation": event}


@blp.route("/services/<service_id>/subscribers")
class Subscribers(MethodView):
    @blp.arguments(PageArgs, location="query", unknown="raise")
    @blp.response(200, page_of(SubscriberSchema, "SubscriberPage"))
    def get(self, args, account_id, service_id):
        """Who holds the service (users with their subscription's status and expiry)."""
        page = as_page(
            service("subscriptions").get(
                f"/internal/accounts/{q(account_id)}/services/{q(service_id)}/subscribers",
                params=args,
            ),
            args["page"],
            args["per_page"],
        )
        page["items"] = [as_subscriber(row) for row in page["items"] if isinstance(row, dict)]
        return page


def as_subscriber(row: dict[str, Any]) -> dict[str, Any]:
    """A subscribers row of subscriptions (user fields + subscription state) as a user of the list."""
    return {
        **row,
        "id": row.get("user_id"),
        "status": row.get("status_of_user"),
        "subscription_status": row.get("status"),
    }

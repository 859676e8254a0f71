"""The signed-in user's services: "My services", subscribing, the catalog, the administrators."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from bus.http_client import segment as q
from gateway.entrypoints.context import caller, gw
from gateway.entrypoints.forward import (
    EVENT_ID_HEADER,
    as_page,
    propagation,
    remember_own_events,
    service,
)
from gateway.entrypoints.schemas import (
    PageArgs,
    ServiceFilters,
    ServiceSchema,
    SubscribeIn,
    SubscriptionFilters,
    SubscriptionSchema,
    SubscriptionWritten,
    UserSchema,
    page_of,
)
from gateway.service_layer.own_writes import (
    apply_subscriptions,
    cancel_subscription,
    with_effective,
)

blp = Blueprint(
    "my_services", __name__, url_prefix="/api/v1", description="The signed-in user's services"
)


def effective_page(answer: object, args: dict) -> dict:
    page = as_page(answer, args.get("page", 1), args.get("per_page"))
    page["items"] = with_effective(gw().part, page["items"], gw().today())
    return page


@blp.route("/me/subscriptions")
class MySubscriptions(MethodView):
    @blp.arguments(SubscriptionFilters, location="query", unknown="raise")
    @blp.response(200, page_of(SubscriptionSchema, "SubscriptionPage"))
    def get(self, args):
        """ "My services", with `effective` telling whether the portal already applies each one."""
        return effective_page(
            service("subscriptions").get(
                f"/internal/users/{caller().user_id}/subscriptions", params=args
            ),
            args,
        )

    @blp.arguments(SubscribeIn)
    @blp.response(201, SubscriptionWritten, description="accepted at once")
    @blp.alt_response(
        202, schema=SubscriptionWritten, description="waiting for an administrator's validation"
    )
    def post(self, body):
        """Subscribe, or ask when the service is subject to validation (403 level too low, 409 held)."""
        me = caller()
        sub = service("subscriptions").post(
            f"/internal/users/{me.user_id}/subscriptions", json=body
        )
        apply_subscriptions(gw().part, [sub], me.account_id)
        kind = "requested" if sub.get("status") == "pending" else "accepted"
        event = propagation(sub, applied=True, event_type=f"subscriptions.subscription.{kind}")
        [shown] = with_effective(gw().part, [sub], gw().today())
        return {**shown, "propagation": event}, 202 if sub.get("status") == "pending" else 201


@blp.route("/me/subscriptions/<subscription_id>")
class MySubscription(MethodView):
    @blp.response(204)
    def delete(self, subscription_id):
        """Unsubscribe (409 when it would leave the account without an administrator)."""
        answer = service("subscriptions").raw(
            "DELETE", f"/internal/users/{caller().user_id}/subscriptions/{q(subscription_id)}"
        )
        cancel_subscription(gw().part, subscription_id)
        remember_own_events(
            [answer.headers.get(EVENT_ID_HEADER)], "subscriptions.subscription.cancelled"
        )


@blp.route("/catalog")
class Catalog(MethodView):
    @blp.arguments(ServiceFilters, location="query", unknown="raise")
    @blp.response(200, page_of(ServiceSchema, "ServicePage"))
    def get(self, args):
        """The services of the caller's account that the caller does not hold."""
        answer = service("subscriptions").get(
            f"/internal/users/{caller().user_id}/catalog", params=args
        )
        return as_page(answer, args["page"], args["per_page"])


@blp.route("/administrators")
class Administrators(MethodView):
    @blp.arguments(PageArgs, location="query", unknown="raise")
    @blp.response(200, page_of(UserSchema, "AdministratorPage"))
    def get(self, args):
        """The administrators of the caller's account: who to ask for a service."""
        answer = service("identity").get(
            f"/internal/accounts/{caller().account_id}/administrators", params=args
        )
        return as_page(answer, args["page"], args["per_page"])

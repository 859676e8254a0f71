"""Administration of an account's users: list, create, read, modify, delete, unlock, re-invite."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from gateway.entrypoints.accounts import q
from gateway.entrypoints.address_taken import limit_taken_answers
from gateway.entrypoints.context import gw
from gateway.entrypoints.forward import (
    EVENT_ID_HEADER,
    as_page,
    propagation,
    remember_own_events,
    service,
)
from gateway.entrypoints.guards import require_reach
from gateway.entrypoints.schemas import (
    SentSkipped,
    UserIds,
    UserIn,
    UserPatch,
    UserSchema,
    UsersQuery,
    UserWritten,
    page_of,
)
from gateway.service_layer.own_writes import forget_user
from gateway.service_layer.sessions import profiles_changed

blp = Blueprint(
    "users",
    __name__,
    url_prefix="/api/v1/accounts/<account_id>",
    description="Administration: the users of an account",
)
blp.before_request(require_reach)


def users_path(account_id: str, user_id: str | None = None) -> str:
    path = f"/internal/accounts/{q(account_id)}/users"
    return f"{path}/{q(user_id)}" if user_id else path


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(UsersQuery, location="query", unknown="raise")
    @blp.response(200, page_of(UserSchema, "UserPage"))
    def get(self, args, account_id):
        """The user list, searched by name, e-mail or function, filtered by status or role."""
        return as_page(
            service("identity").get(users_path(account_id), params=args),
            args["page"],
            args["per_page"],
        )

    @blp.arguments(UserIn)
    @blp.response(201, UserWritten)
    def post(self, body, account_id):
        """Create a user: identity sends the activation e-mail, subscriptions grants the auto services."""
        with limit_taken_answers(bool(body.get("email"))):
            user = service("identity").post(users_path(account_id), json=body)
        return {**user, "propagation": propagation(user, event_type="identity.user.created")}


@blp.route("/users/<user_id>")
class User(MethodView):
    @blp.response(200, UserSchema)
    def get(self, account_id, user_id):
        """One user of the account."""
        return service("identity").get(users_path(account_id, user_id))

    @blp.arguments(UserPatch)
    @blp.response(200, UserWritten)
    def patch(self, body, account_id, user_id):
        """Modify a user's profile or password security level."""
        with limit_taken_answers("email" in body):
            user = service("identity").patch(users_path(account_id, user_id), json=body)
        profiles_changed(gw().part, user_id=user_id)
        return {**user, "propagation": propagation(user, event_type="identity.user.updated")}

    @blp.response(204)
    def delete(self, account_id, user_id):
        """Delete a user (409 for the account's last administrator); their sessions end at once."""
        answer = service("identity").raw("DELETE", users_path(account_id, user_id))
        forget_user(gw().part, user_id)
        remember_own_events([answer.headers.get(EVENT_ID_HEADER)], "identity.user.deleted")


@blp.route("/users/<user_id>/unlock")
class Unlock(MethodView):
    @blp.response(204)
    def post(self, account_id, user_id):
        """Unlock a user locked after failed sign-ins."""
        service("identity").post(f"{users_path(account_id, user_id)}/unlock")
        profiles_changed(gw().part, user_id=user_id)


@blp.route("/activation-emails")
class ActivationEmails(MethodView):
    @blp.arguments(UserIds)
    @blp.response(202, SentSkipped)
    def post(self, body, account_id):
        """Re-send the activation e-mail to each selected user still pending activation."""
        answer = (
            service("identity").post(
                f"/internal/accounts/{q(account_id)}/activation-emails", json=body
            )
            or {}
        )
        return {**answer, "propagation": propagation(answer)}

"""The signed-in user: profile, password, e-mail change, dashboard, own audit trail."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from gateway.adapters.caller_reader import caller_reader
from gateway.entrypoints.address_taken import limit_taken_answers
from gateway.entrypoints.context import access, caller, gw
from gateway.entrypoints.forward import (
    actor_headers,
    as_page,
    await_own_events,
    propagation,
    service,
)
from gateway.entrypoints.schemas import (
    AuditEntry,
    MeSchema,
    PageArgs,
    ProfilePatch,
    PropagationSchema,
    SubscriptionSchema,
    UserSchema,
    UserWritten,
    page_of,
)
from gateway.service_layer import sessions as session_store
from gateway.service_layer.access import HOLDINGS_OF_USER, states_of
from gateway.service_layer.dashboard import compose_dashboard
from gateway.service_layer.own_writes import with_effective

# GET /me's answer but for the session's and the gateway's own fields
PROFILE = MeSchema(
    exclude=("password_change_required", "mfa_enrolment_required", "administers", "supervises")
)
# the dashboard's lists, in the shapes they have everywhere else in the API (built once)
USERS = UserSchema(many=True)
SUBSCRIPTIONS = SubscriptionSchema(many=True)

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The signed-in user")


class PasswordChange(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class EmailChangeIn(Schema):
    new_email = fields.Email(required=True, validate=validate.Length(max=320))


class EmailChangeOut(Schema):
    detail = fields.String()
    propagation = fields.Nested(PropagationSchema)


class Panel(Schema):
    unavailable = fields.Boolean(
        metadata={"description": "present when this panel's service failed"}
    )
    reason = fields.String()


class MyServicesPanel(Panel):
    accepted = fields.Integer()
    pending = fields.Integer()
    refused = fields.Integer()
    last = fields.List(fields.Dict())


class CatalogPanel(Panel):
    not_subscribed = fields.Integer()
    new_since_last_sign_in = fields.Integer()
    without_subscriber = fields.Integer()
    pending_validation = fields.Integer()


class UsersPanel(Panel):
    active = fields.Integer()
    pending_activation = fields.Integer()
    without_email = fields.Integer()
    new_since_last_sign_in = fields.Integer()
    groups = fields.Raw()


class DashboardOut(Schema):
    my_services = fields.Nested(MyServicesPanel)
    last_audits = fields.Raw(
        metadata={"description": "the last 3 audits, or {unavailable, reason}"}
    )
    catalog = fields.Nested(CatalogPanel)
    administrators = fields.Raw(
        metadata={"description": "the account's administrators, or {unavailable, reason}"}
    )
    users = fields.Nested(UsersPanel, metadata={"description": "administrators only"})


@blp.route("")
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self):
        """The profile, the account and what the caller administers or supervises."""
        me, gateway = caller(), gw()
        rights, now = access(), gateway.now()
        # the profile is kept already shaped by PROFILE (its dump does not change while it is kept)
        profile = me.session.cached_profile(now, gateway.config.profile_cache_ttl)
        # identity's is_administrator and the gateway's rights travel by different consumers: while
        # they disagree (one has applied a grant the other has not yet), ask identity every time.
        if profile is None or profile.get("is_administrator") != rights.is_administrator:
            profile = PROFILE.dump(service("identity").get(f"/internal/users/{me.user_id}"))
            if (
                gateway.config.profile_cache_ttl
                and profile.get("is_administrator") == rights.is_administrator
            ):
                session_store.keep_profile(gateway.part, me.session, profile, now)
        # MeSchema's other fields are a boolean and lists of ids: already in their dumped form
        return jsonify(
            {
                **profile,
                "password_change_required": me.session.password_change_required,
                "mfa_enrolment_required": me.session.mfa_enrolment_required,
                "administers": sorted(rights.administers),
                "supervises": sorted(rights.supervises),
            }
        )

    @blp.arguments(ProfilePatch)
    @blp.response(200, UserWritten)
    def patch(self, body):
        """Change title, names, language, function or phones."""
        user = service("identity").patch(f"/internal/users/{caller().user_id}", json=body)
        session_store.profiles_changed(gw().part, user_id=caller().user_id)
        return {**user, "propagation": propagation(user, event_type="identity.user.updated")}


@blp.route("/password")
class MyPassword(MethodView):
    @blp.arguments(PasswordChange)
    @blp.response(204)
    def post(self, body):
        """Change the password; every other session of the user ends."""
        me, part = caller(), gw().part
        # Flag first: the password.changed event may be consumed before identity's answer is back.
        session_store.expect_own_password_change(part, me.session.id, True)
        try:
            service("identity").post(f"/internal/users/{me.user_id}/password", json=body)
        except Exception:
            session_store.expect_own_password_change(part, me.session.id, False)
            raise
        session_store.end_other_sessions(part, me.user_id, keep_id=me.session.id)
        session_store.password_changed(part, me.session.id)


@blp.route("/email-change")
class MyEmailChange(MethodView):
    @blp.arguments(EmailChangeIn)
    @blp.response(202, EmailChangeOut)
    def post(self, body):
        """Send a validation link to the new address; the address changes once it is opened."""
        with limit_taken_answers():
            answer = (
                service("identity").post(
                    f"/internal/users/{caller().user_id}/email-change", json=body
                )
                or {}
            )
        return {
            "detail": "A confirmation link was sent to the new address; your address changes once you open it.",
            "propagation": propagation(answer),
        }


@blp.route("/dashboard")
class Dashboard(MethodView):
    @blp.response(200, DashboardOut)
    def get(self):
        """The profile page's panels; a panel whose service fails says so, the others are still given."""
        me, gateway = caller(), gw()

        def read_states() -> Any:  # the projection's side of "effective", read meanwhile
            return states_of(
                caller_reader(gateway.part.engine).run(HOLDINGS_OF_USER, {"user_id": me.user_id})
            )

        for name in (
            "subscriptions",
            "identity",
        ):  # the caller's own writes first (read-your-writes)
            if name in gateway.clients:
                await_own_events(name, gateway.clients[name])
        panels, states = compose_dashboard(
            gateway.executor,
            gateway.clients,
            actor_headers(),
            user_id=me.user_id,
            since=me.session.previous_sign_in_at,
            is_administrator=access().is_administrator,
            timeout=gateway.config.dashboard_timeout,
            meanwhile=read_states,
        )
        # public shapes for the lists: the same fields as everywhere else in the API
        if isinstance(panels["administrators"], list):
            panels["administrators"] = USERS.dump(panels["administrators"])
        last = (
            panels["my_services"].get("last") if isinstance(panels["my_services"], dict) else None
        )
        if isinstance(last, list):
            panels["my_services"]["last"] = SUBSCRIPTIONS.dump(
                with_effective(gateway.part, last, gateway.today(), states)
            )
        return panels


@blp.route("/audits")
class MyAudits(MethodView):
    @blp.arguments(PageArgs, location="query", unknown="raise")
    @blp.response(200, page_of(AuditEntry, "AuditPage"))
    def get(self, args):
        """The caller's own sign-in and security events, newest first."""
        answer = service("identity").get(f"/internal/users/{caller().user_id}/audits", params=args)
        return as_page(answer, args["page"], args["per_page"])

"""Self-service without a session: activation wizard, password reset, e-mail change confirmation."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from bus.contracts import vocabulary as v
from bus.http_client import segment as q
from gateway.entrypoints.context import gw
from gateway.entrypoints.forward import propagation, service
from gateway.entrypoints.schemas import UserWritten, name_field
from gateway.entrypoints.session import limit_attempts
from gateway.service_layer.sessions import profiles_changed

blp = Blueprint(
    "self_service", __name__, url_prefix="/api/v1", description="Self-service (no session)"
)


class ActivationOut(Schema):
    email = fields.String()
    title = fields.String(allow_none=True)
    last_name = fields.String()
    first_name = fields.String()
    language = fields.String()
    function = fields.String(allow_none=True)
    office_phone = fields.String(allow_none=True)
    mobile_phone = fields.String(allow_none=True)
    password_level = fields.Integer()
    password_rules = fields.Raw(
        metadata={
            "description": "the rules the new password must follow: [{code, text, "
            "value}], value being the number a rule is about "
            "(absent for a rule about none)"
        }
    )


class ActivationIn(Schema):
    title = fields.String(required=True, validate=validate.OneOf(v.TITLES))
    last_name = name_field()
    first_name = name_field()
    language = fields.String(required=True, validate=validate.OneOf(v.LANGUAGES))
    function = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    office_phone = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=40)
    )
    mobile_phone = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=40)
    )
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class ResetRequest(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))


class ResetAccepted(Schema):
    detail = fields.String()


class NewPassword(Schema):
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


@blp.route("/activations/<token>")
class Activation(MethodView):
    @blp.doc(security=[])
    @blp.response(200, ActivationOut)
    def get(self, token):
        """The activation wizard's pre-filled data (404 unknown link, 410 used or expired)."""
        return service("identity").get(f"/internal/activations/{q(token)}")

    @blp.doc(security=[])
    @blp.arguments(ActivationIn)
    @blp.response(201, UserWritten)
    def post(self, body, token):
        """Complete the three steps of the wizard at once; the user may sign in right away."""
        user = service("identity").post(f"/internal/activations/{q(token)}", json=body)
        if isinstance(user, dict) and user.get("id"):
            profiles_changed(gw().part, user_id=str(user["id"]))
        # the new user's next calls, once signed in, find the other services aware of the activation
        return {
            **user,
            "propagation": propagation(
                user, event_type="identity.user.activated", actor=str(user.get("id") or "") or None
            ),
        }


@blp.route("/password-resets")
class PasswordResets(MethodView):
    @blp.doc(security=[])
    @blp.arguments(ResetRequest)
    @blp.response(202, ResetAccepted)
    def post(self, body):
        """Send a reset link if the address is known; the answer is the same either way."""
        limit_attempts("password-reset", body["email"])
        service("identity").post("/internal/password-resets", json=body)
        return {
            "detail": "If this address belongs to a user, a message with a reset link was sent to it."
        }


@blp.route("/password-resets/<token>")
class PasswordReset(MethodView):
    @blp.doc(security=[])
    @blp.arguments(NewPassword)
    @blp.response(204)
    def post(self, body, token):
        """Set a new password with a reset link; it also unlocks the user and ends their sessions."""
        service("identity").post(f"/internal/password-resets/{q(token)}", json=body)


@blp.route("/email-changes/<token>")
class EmailChange(MethodView):
    @blp.doc(security=[])
    @blp.response(204)
    def post(self, token):
        """Confirm a new e-mail address (410 when the link was used or has expired)."""
        service("identity").post(f"/internal/email-changes/{q(token)}")
        # identity does not say whose address changed: every kept profile is dropped (a rare write)
        profiles_changed(gw().part)

"""Signing in and out: POST and DELETE /api/v1/session."""

from __future__ import annotations

from typing import Any

from flask import Response, after_this_request, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from bus.clock import iso
from bus.http import Problem
from bus.i18n import _l
from bus.login import counting_key
from gateway.entrypoints.context import gw
from gateway.entrypoints.errors import TooManyRequests
from gateway.entrypoints.forward import service
from gateway.entrypoints.guards import COOKIE, check_csrf, resolve_session
from gateway.entrypoints.schemas import UserSchema
from gateway.service_layer import ratelimit, sign_in_methods
from gateway.service_layer.sessions import end_session, open_session

blp = Blueprint("session", __name__, url_prefix="/api/v1", description="Signing in and out")


class SignIn(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    code = fields.String(
        validate=validate.Length(min=1, max=20),
        metadata={
            "description": "optional: the code of the user's authenticator application, to sign "
            "in with both factors in one request (a wrong one is a 401 like a wrong password)",
            "example": "492039",
        },
    )


class SessionOut(Schema):
    token = fields.String(metadata={"description": "send as Authorization: Bearer <token>"})
    csrf_token = fields.String(
        metadata={"description": "browsers echo it as X-CSRF-Token on unsafe methods"}
    )
    user = fields.Nested(UserSchema)
    password_change_required = fields.Boolean()
    expires_at = fields.String(
        metadata={"format": "date-time", "description": "the absolute end of the session"}
    )


class SecondFactorDue(Schema):
    """202: the password was right, but the session is not open yet (docs/api.md, Second factors)."""

    mfa_required = fields.Boolean(
        metadata={"description": "always true: a second step is due", "example": True}
    )
    mfa_token = fields.String(
        allow_none=True,
        metadata={
            "description": "POST /api/v1/session/mfa with it and one factor (5 minutes, single-use); "
            "null when enrolment_required",
            "example": "mQ3v8Kc1sR7yT0pLx2WnZ5bHd9GfJ4aE6uVoYiNkBsw",
        },
    )
    methods = fields.List(
        fields.String(metadata={"enum": ["totp", "passkey", "recovery_code"]}),
        metadata={"example": ["totp", "recovery_code"]},
    )
    enrolment_required = fields.Boolean(
        metadata={
            "description": "the account requires a second factor the user lacks: the session below may "
            "only enrol one (/api/v1/me/mfa...) until it is done",
            "example": False,
        }
    )
    token = fields.String(
        metadata={"description": "enrolment_required: the session that may only enrol"}
    )
    csrf_token = fields.String()
    user = fields.Nested(UserSchema)
    expires_at = fields.String(metadata={"format": "date-time"})


def client_ip() -> str:
    return request.remote_addr or "unknown"


def limit_attempts(kind: str, email: str) -> None:
    """Count this attempt per IP and per login (the address's login key, bus.login: every
    spelling of an address is counted together); 429 with Retry-After over either limit."""
    config, now = gw().config, gw().now()
    limits = (
        (config.sign_in_per_ip, config.sign_in_per_email)
        if kind == "sign-in"
        else (config.reset_per_ip, config.reset_per_email)
    )
    wait = ratelimit.hit_all(
        gw().part,
        [
            (f"{kind}:ip:{client_ip()}", limits[0]),
            (f"{kind}:email:{counting_key(email)}", limits[1]),
        ],
        now,
    )
    if wait is not None:
        if kind == "sign-in":
            detail = _l(
                "Too many sign-in attempts in a short time; try again in {wait} seconds.",
                code="rate_limited.sign_in",
                wait=wait,
            )
        else:
            detail = _l(
                "Too many password reset requests in a short time; try again in {wait} seconds.",
                code="rate_limited.password_reset",
                wait=wait,
            )
        raise TooManyRequests(detail, wait)


@blp.route("/session")
class Session(MethodView):
    @blp.doc(security=[])
    @blp.arguments(SignIn)
    @blp.response(201, SessionOut)
    @blp.alt_response(
        202, schema=SecondFactorDue, description="a second factor is due, or must be enrolled"
    )
    def post(self, body):
        """Sign in: 401 (one generic message) or 423 (locked) come from identity unchanged; 202 when
        a second factor is due (or, the account requiring one the user lacks, must be enrolled)."""
        limit_attempts("sign-in", body["email"])
        sent = {
            "email": body["email"],
            "password": body["password"],
            "ip": client_ip(),
            "user_agent": request.headers.get("User-Agent", "")[:300],
        }
        if "code" in body:  # both factors at once: one request, one hop (docs/api.md)
            answer = service("identity").post(
                "/internal/sign-in/totp", json={**sent, "code": body["code"]}
            )
        else:
            answer = service("identity").post("/internal/sign-in", json=sent)
        if answer.get("mfa_required"):
            return jsonify(
                mfa_required=True,
                mfa_token=answer["mfa_token"],
                methods=answer["methods"],
                enrolment_required=False,
            ), 202
        return signed_in(answer)

    @blp.response(204)
    def delete(self):
        """Sign out: ends the session (a session already ended signs out quietly)."""
        try:
            me = resolve_session()
        except Problem:
            me = None
        if me is not None:
            check_csrf(me)
            end_session(gw().part, me.session.id)

        @after_this_request
        def clear_cookie(response: Response) -> Response:
            response.delete_cookie(
                COOKIE, path="/", httponly=True, secure=gw().config.secure_cookies, samesite="Lax"
            )
            return response


def signed_in(answer: dict[str, Any]) -> Any:
    """Open the session of identity's successful sign-in answer (password, second factor or
    passkey), with its cookie: 201, or 202 with a session that may only enrol a second factor."""
    user = answer["user"]
    required = bool(answer.get("password_change_required"))
    enrolment = bool(answer.get("enrolment_required"))
    config = gw().config
    opened = open_session(
        gw().part,
        config.sessions,
        user,
        password_change_required=required,
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent"),
        mfa_enrolment_required=enrolment,
        amr=sign_in_methods.cleaned(answer.get("amr")),
    )

    @after_this_request
    def set_cookie(response: Response) -> Response:
        response.set_cookie(
            COOKIE,
            opened.token,
            max_age=int(config.sessions.lifetime.total_seconds()),
            httponly=True,
            secure=config.secure_cookies,
            samesite="Lax",
            path="/",
        )
        return response

    opened_answer = {
        "token": opened.token,
        "csrf_token": opened.csrf_token,
        "user": user,
        "password_change_required": required,
        "expires_at": iso(opened.info.expires_at),
    }
    if enrolment:
        return jsonify(
            mfa_required=True, mfa_token=None, methods=[], enrolment_required=True, **opened_answer
        ), 202
    return opened_answer

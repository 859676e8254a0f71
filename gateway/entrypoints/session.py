"""Signing in and out: POST and DELETE /api/v1/session."""

from __future__ import annotations

from flask import Response, after_this_request, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from bus.clock import iso
from bus.http import Problem
from bus.login import counting_key
from gateway.entrypoints.context import gw
from gateway.entrypoints.errors import TooManyRequests
from gateway.entrypoints.forward import service
from gateway.entrypoints.guards import COOKIE, check_csrf, resolve_session
from gateway.entrypoints.schemas import UserSchema
from gateway.service_layer import ratelimit
from gateway.service_layer.sessions import end_session, open_session

blp = Blueprint("session", __name__, url_prefix="/api/v1", description="Signing in and out")


class SignIn(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class SessionOut(Schema):
    token = fields.String(metadata={"description": "send as Authorization: Bearer <token>"})
    csrf_token = fields.String(metadata={"description": "browsers echo it as X-CSRF-Token on unsafe methods"})
    user = fields.Nested(UserSchema)
    password_change_required = fields.Boolean()
    expires_at = fields.String(metadata={"format": "date-time", "description": "the absolute end of the session"})


def client_ip() -> str:
    return request.remote_addr or "unknown"


def limit_attempts(kind: str, email: str) -> None:
    """Count this attempt per IP and per login (the address's login key, bus.login: every
    spelling of an address is counted together); 429 with Retry-After over either limit."""
    config, now = gw().config, gw().now()
    limits = ((config.sign_in_per_ip, config.sign_in_per_email) if kind == "sign-in"
              else (config.reset_per_ip, config.reset_per_email))
    wait = ratelimit.hit_all(gw().part, [(f"{kind}:ip:{client_ip()}", limits[0]),
                                         (f"{kind}:email:{counting_key(email)}", limits[1])], now)
    if wait is not None:
        what = "sign-in attempts" if kind == "sign-in" else "password reset requests"
        raise TooManyRequests(f"Too many {what} in a short time; try again in {wait} seconds.", wait)


@blp.route("/session")
class Session(MethodView):
    @blp.doc(security=[])
    @blp.arguments(SignIn)
    @blp.response(201, SessionOut)
    def post(self, body):
        """Sign in: 401 (one generic message) or 423 (locked) come from identity unchanged."""
        limit_attempts("sign-in", body["email"])
        answer = service("identity").post("/internal/sign-in", json={
            "email": body["email"], "password": body["password"], "ip": client_ip(),
            "user_agent": request.headers.get("User-Agent", "")[:300],
        })
        user = answer["user"]
        required = bool(answer.get("password_change_required"))
        opened = open_session(gw().part, gw().config.sessions, user, password_change_required=required,
                              ip=client_ip(), user_agent=request.headers.get("User-Agent"))
        config = gw().config

        @after_this_request
        def set_cookie(response: Response) -> Response:
            response.set_cookie(COOKIE, opened.token, max_age=int(config.sessions.lifetime.total_seconds()),
                                httponly=True, secure=config.secure_cookies, samesite="Lax", path="/")
            return response

        return {"token": opened.token, "csrf_token": opened.csrf_token, "user": user,
                "password_change_required": required,
                "expires_at": iso(opened.info.expires_at)}

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
            response.delete_cookie(COOKIE, path="/", httponly=True, secure=gw().config.secure_cookies,
                                   samesite="Lax")
            return response

"""What every request passes before its handler: request id, body limits, content type, session.

Default deny: every /api/v1 route needs a live session unless its blueprint is public. Cookie
sessions must echo X-CSRF-Token on unsafe methods; Bearer clients need not. A session that must
change its password may only read /me, change the password and sign out.
"""

from __future__ import annotations

import json
import re
import uuid

from flask import Flask, Response, g, request

from bus import i18n
from bus.http import Problem
from bus.i18n import _l
from gateway.domain.sessions import same_token
from gateway.entrypoints.context import Caller, access, gw
from gateway.service_layer.sessions import SessionEnded, find_caller

COOKIE = "portico_session"
CSRF_HEADER = "X-CSRF-Token"
PUBLIC_BLUEPRINTS = frozenset(
    {
        "operator",
        "oidc_clients",
        "session",
        "session_mfa",
        "self_service",
        "api-docs",
        "api_docs",
        "ops",
    }
)
UPLOAD_ENDPOINTS = frozenset({"imports.Imports", "operator.OperatorImports", "web.import_users"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PASSWORD_CHANGE_ALLOWED = frozenset(
    {("POST", "me.MyPassword"), ("GET", "me.Me"), ("DELETE", "session.Session")}
)
# What a session that must enrol a second factor may do (gateway/entrypoints/mfa.py's my_mfa).
ENROLMENT_ALLOWED_BLUEPRINTS = frozenset({"my_mfa"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Ids, client numbers and link tokens all fit this; anything else names nothing that exists.
PATH_VALUE_PATTERN = r"^[A-Za-z0-9._~:-]{1,200}$"  # documented for every path parameter
_PATH_VALUE = re.compile(PATH_VALUE_PATTERN)


def install_guards(app: Flask) -> None:
    app.before_request(assign_request_id)
    app.before_request(check_body)
    app.before_request(authenticate)
    app.before_request(check_path_values)
    app.after_request(echo_request_id)
    app.after_request(protect_answer)


def assign_request_id() -> None:
    given = request.headers.get("X-Portico-Request-Id") or request.headers.get("X-Request-Id") or ""
    g.request_id = given if _REQUEST_ID.match(given) else str(uuid.uuid4())


def echo_request_id(response: Response) -> Response:
    response.headers["X-Portico-Request-Id"] = g.get("request_id", "")
    return response


# The API's answers carry tokens (sign-in), personal data and private documents: no cache keeps
# them (RFC 6749 5.1 for the token), and no browser guesses another type than the one declared.
# The OpenAPI document is public and may be kept.
_CACHEABLE = frozenset({"/api/v1/openapi.json"})
HSTS = "max-age=31536000"


def protect_answer(response: Response) -> Response:
    if request.path.startswith("/api/") and request.path not in _CACHEABLE:
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Pragma", "no-cache")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if (
        gw().config.secure_cookies
    ):  # the public URL is https: browsers never try plain http for a year
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def check_path_values() -> None:
    """404 at once for a path value no id or token can have (and that must not reach a service)."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and not _PATH_VALUE.match(value):
            if name == "account_id":
                raise not_found_account()
            raise Problem(404, "Not Found", _l("There is nothing at this address."))


def has_body() -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def check_body() -> None:
    """413 over the cap, 415 for a body that is not of the type the endpoint reads."""
    config = gw().config
    upload = request.endpoint in UPLOAD_ENDPOINTS
    cap = config.max_upload_bytes if upload else config.max_body_bytes
    request.max_content_length = cap
    if request.content_length is not None and request.content_length > cap:
        raise Problem(
            413,
            "Content Too Large",
            _l(
                "The body has {size} bytes; this endpoint accepts {cap} at most.",
                code="request.too_large",
                size=request.content_length,
                cap=cap,
            ),
        )
    if request.method in SAFE_METHODS or not has_body() or not request.path.startswith("/api/"):
        return
    if upload:
        if request.mimetype != "multipart/form-data":
            raise Problem(
                415,
                "Unsupported Media Type",
                _l(
                    "Send the file as multipart/form-data, in a field named `file`.",
                    code="request.media_type",
                ),
            )
    elif not request.is_json:
        raise Problem(
            415,
            "Unsupported Media Type",
            _l(
                "Send the body as application/json (this request said {given}).",
                code="request.media_type",
                given=request.mimetype or _l("nothing"),
            ),
        )


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def resolve_session() -> Caller | None:
    """The caller of a live session (Bearer first, then the cookie); None when none was sent.

    Raises 401 for a token that names no live session, whatever the reason. The caller's rights
    are read in the same query (g.access).
    """
    token, via_cookie = bearer_token(), False
    if token is None:
        token, via_cookie = request.cookies.get(COOKIE), True
    if not token:
        return None
    try:
        info, rights = find_caller(gw().part, gw().config.sessions, token)
    except SessionEnded as exc:
        raise Problem(401, "Unauthorized", exc.args[0], code="session.ended") from None
    g.access = rights
    return Caller(info, via_cookie)


def profile_language(me: Caller) -> str | None:
    """The signed-in user's own language, from the profile kept on the session (GET /me)."""
    try:
        profile = json.loads(me.session.profile) if me.session.profile else None
    except ValueError:
        return None
    return profile.get("language") if isinstance(profile, dict) else None


def check_csrf(me: Caller) -> None:
    if not me.via_cookie or request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER, "")
    if not given:
        raise Problem(
            403,
            "Forbidden",
            _l(
                "This browser request needs the {header} header, with the csrf_token given"
                " when you signed in.",
                code="csrf.missing",
                header=CSRF_HEADER,
            ),
        )
    if not same_token(given, me.session.csrf_hash):
        raise Problem(
            403,
            "Forbidden",
            _l(
                "The {header} header does not match this session; use the csrf_token given"
                " when you signed in.",
                code="csrf.mismatch",
                header=CSRF_HEADER,
            ),
        )


def authenticate() -> None:
    if not request.path.startswith("/api/v1/") or request.blueprint in PUBLIC_BLUEPRINTS:
        return
    me = resolve_session()
    if me is None:
        raise Problem(
            401,
            "Unauthorized",
            _l(
                "Sign in first (POST /api/v1/session), then send the token as"
                " Authorization: Bearer <token>.",
                code="auth.required",
            ),
        )
    i18n.choose_language(profile_language(me))
    check_csrf(me)
    if (
        me.session.password_change_required
        and (request.method, request.endpoint) not in PASSWORD_CHANGE_ALLOWED
    ):
        raise Problem(
            403,
            "Forbidden",
            _l(
                "Your password must be changed before you can continue:"
                " POST /api/v1/me/password with your current and a new password.",
                code="password.change_required",
            ),
        )
    if (
        me.session.mfa_enrolment_required
        and request.blueprint not in ENROLMENT_ALLOWED_BLUEPRINTS
        and (request.method, request.endpoint) not in PASSWORD_CHANGE_ALLOWED
    ):
        raise Problem(
            403,
            "Forbidden",
            _l(
                "Your account requires a second factor before you can continue: set one up"
                " with POST /api/v1/me/mfa/totp (an authenticator application) or"
                " POST /api/v1/me/mfa/passkeys/options (a passkey).",
                code="mfa.enrolment_required",
            ),
        )
    g.caller = me


def require_reach() -> None:
    """Blueprint guard of /accounts/{account_id}/...: 404 outside the caller's reach, before any call."""
    account_id = (request.view_args or {}).get("account_id")
    if account_id is None:
        return
    mine = access()
    if account_id in mine.reach:
        g.role = mine.role_in(account_id)
        return
    if account_id == mine.account_id:
        raise Problem(
            403,
            "Forbidden",
            _l(
                "Only an administrator of your account can do this;"
                " GET /api/v1/administrators lists who to ask.",
                code="access.administrators_only",
            ),
        )
    raise not_found_account()


def not_found_account() -> Problem:
    """The one answer for an account outside reach and for one that does not exist."""
    return Problem(
        404,
        "Not Found",
        _l(
            "There is no account with this id among those you administer.",
            code="account.not_found",
        ),
    )

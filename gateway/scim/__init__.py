"""The SCIM 2.0 server (RFC 7643 / 7644) at /scim/v2: an account's directory (Entra ID, Okta,
Google, Keycloak) provisions its users and their services with a SCIM token of that account.

The gateway holds no user data: Users are carried out by identity, Groups (= the account's
catalog services, members = holders) by subscriptions, through their internal APIs.

How a resource plugs in (Groups, gateway/scim/groups.py):
  - define the routes on `bp` (this module's blueprint, prefix /scim/v2), e.g.
    `from gateway.scim import bp` then `@bp.route("/Groups", methods=["GET"])`; every route of
    `bp` is behind the token check, the per-token rate limit and the SCIM error handlers;
  - `ROUTE_MODULES` below names the modules imported before `bp` is registered: "groups" is
    in it (imported when the file exists);
  - `scim_caller()` is the token's account and name (the audit trail's source); raise
    `gateway.scim.errors.ScimError` (or its helpers) for an error, answer with
    `gateway.scim.errors.scim_response(body, status, headers)`;
  - `service_call("subscriptions")` is the Forwarder carrying the SCIM actor headers;
  - for /Bulk, define in groups.py
    `def bulk_operation(method: str, group_id: str | None, data: dict | None) -> tuple[int, dict | None, str | None]`
    (status, resource body or None, its version) raising ScimError on failure; bulk.py calls it
    for every operation whose path starts with /Groups.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from bus.http_client import ServiceClient
from gateway.domain.ratelimit import Limit
from gateway.entrypoints.context import gw
from gateway.entrypoints.forward import Forwarder
from gateway.entrypoints.guards import bearer_token
from gateway.scim import discovery
from gateway.scim.errors import SCIM_JSON, ScimError, as_scim_error, error_response
from gateway.scim.tokens import ScimToken, find_token
from gateway.service_layer import read_your_writes
from gateway.service_layer.ratelimit import hit

PREFIX = "/scim/v2"
ROUTE_MODULES = ("users", "groups", "bulk")
SCIM_ACTOR = "scim"  # X-Portico-Actor of a SCIM write; the token's name is its source
RATE_SETTING = "PORTICO_RATE_SCIM_PER_TOKEN"
DEFAULT_RATE = "600/60"

bp = Blueprint("scim", __name__, url_prefix=PREFIX)
bp.register_blueprint(discovery.bp)


def scim_caller() -> ScimToken:
    """The token of the request being answered (set by `authenticate`)."""
    return g.scim_token


def actor_headers() -> dict[str, str]:
    """Who acts, for the services' audit trails: the SCIM token of the account, by its name."""
    token = scim_caller()
    return {
        "X-Portico-Request-Id": g.get("request_id", ""),
        "X-Portico-Actor": f"{SCIM_ACTOR}:{token.id}",
        "X-Portico-Actor-Account": token.account_id,
        "X-Portico-Source": f"scim:{token.name}",
    }


class ScimForwarder(Forwarder):
    """A service, called with the SCIM token's actor headers (no session is behind the call)."""

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs["headers"] = {**actor_headers(), **kwargs.get("headers", {})}
        return getattr(self.client, method)(path, **kwargs)

    def raw(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs["headers"] = {**actor_headers(), **kwargs.get("headers", {})}
        return self.client.request(method, path, **kwargs)


def service_call(name: str) -> ScimForwarder:
    client: ServiceClient | None = gw().clients.get(name)
    if client is None:
        raise ScimError(503, f"The {name} service has no address (set PORTICO_{name.upper()}_URL).")
    return ScimForwarder(client, name)


def remember(event_ids: list[Any], event_type: str) -> None:
    """Read-your-writes for a directory: its next calls to another service (a group's members
    just after the users' creation) wait until that service applied these events."""
    ids = [str(event_id) for event_id in event_ids if event_id]
    if ids:
        read_your_writes.remember_events(
            gw().part,
            actor_headers()["X-Portico-Actor"],
            ids,
            event_type,
            gw().now(),
            list(gw().clients),
        )


def rate_limit() -> Limit:
    return _limit(gw().part.settings.setting(RATE_SETTING, DEFAULT_RATE))


@functools.lru_cache(maxsize=8)
def _limit(text: str) -> Limit:
    """The setting read once per value (a Limit is frozen), not on every request."""
    return Limit.parse(text, RATE_SETTING)


@bp.before_request
def authenticate() -> None:
    """Every SCIM request carries a live SCIM token; each counts toward its token's rate."""
    raw = bearer_token()
    token = find_token(gw().part, raw, gw().now()) if raw else None
    if token is None:
        raise ScimError(
            401,
            "Send a SCIM token of the account as Authorization: Bearer <token> "
            "(an administrator issues one in the account's administration pages).",
            headers={"WWW-Authenticate": 'Bearer realm="scim"'},
        )
    g.scim_token = token
    wait = hit(gw().part, f"scim:{token.id}", rate_limit(), gw().now())
    if wait is not None:
        raise ScimError(
            429,
            f"This token sent too many requests; try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    check_content_type()


def check_content_type() -> None:
    if request.method in ("GET", "HEAD", "DELETE", "OPTIONS") or not request.content_length:
        return
    if request.mimetype not in (SCIM_JSON, "application/json"):
        raise ScimError(
            415,
            f"Send the body as {SCIM_JSON} (this request said {request.mimetype or 'nothing'}).",
        )


@bp.after_request
def scim_content_type(response: Response) -> Response:
    if response.mimetype in ("application/json", "application/problem+json"):
        response.mimetype = SCIM_JSON
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(Exception)
def scim_error(exc: Exception) -> Response:
    return error_response(as_scim_error(exc))


def json_body() -> dict[str, Any]:
    """The request's body as a JSON object, or 400 invalidSyntax."""
    body = request.get_json(silent=True, force=True)
    if body is None:
        raise ScimError(400, "The body is not valid JSON; send a JSON object.", "invalidSyntax")
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a JSON object.", "invalidSyntax")
    return body


@bp.post("/.search", endpoint="search_everything")
def search_everything() -> Response:
    """A search over every resource type at once (RFC 7644 3.4.3, at the root): not supported,
    501 as the RFC says; each type has its own (POST /Users/.search, /Groups/.search)."""
    raise ScimError(
        501,
        "Searching every resource type at once is not supported: search the users "
        "(POST /scim/v2/Users/.search) or the groups (POST /scim/v2/Groups/.search).",
    )


@bp.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], endpoint="nothing")
def nothing_here(anything: str) -> Response:
    """An address of /scim/v2 that names no resource: a SCIM 404; one that exists for other
    methods only: a SCIM 405 naming them (not the API's problem+json)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != f"{bp.name}.nothing":
            allowed.append(method)
    if allowed:
        raise ScimError(
            405,
            f"This address does not accept {request.method}; it accepts {', '.join(allowed)}.",
            headers={"Allow": ", ".join(allowed)},
        )
    raise ScimError(404, "There is nothing at this address of the SCIM API.")


def register(app: Flask) -> None:
    """Import the resources' modules (their routes join `bp`), then register `bp` on the app."""
    for name in ROUTE_MODULES:
        module = f"{__name__}.{name}"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    app.register_blueprint(bp)

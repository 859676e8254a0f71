"""The pages' only way to the data: the gateway's own /api/v1, called in-process.

A page handler never decides a rule itself. It asks the same Flask app, through its WSGI
interface, with the browser's session cookie (and, on unsafe methods, the CSRF token the form
carried), exactly as the browser's JavaScript would. Every guard, rate limit and projection of
the API applies unchanged; problem+json answers come back as `ApiError`, which the pages turn
into messages.
"""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from flask import current_app, g, request
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder, run_wsgi_app

from gateway.entrypoints.guards import COOKIE, CSRF_HEADER

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ApiError(Exception):
    """A problem+json answer of the API: status, person-facing detail, per-field errors."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or {}
        self.extra = extra or {}

    @property
    def csrf_mismatch(self) -> bool:
        """The form carried a CSRF token that no longer belongs to the session (signed in again)."""
        return self.status == 403 and CSRF_HEADER in self.detail


@dataclass
class Answer:
    status: int
    data: Any
    headers: Headers
    body: bytes = b""


@dataclass
class ApiCaller:
    """One browser request's view of the API: its cookie, its address, its language."""

    session_token: str | None
    remote_addr: str
    user_agent: str
    request_id: str
    accept_language: str
    base_url: str
    set_cookies: list[str] = field(default_factory=list)

    @classmethod
    def for_request(cls) -> ApiCaller:
        return cls(
            session_token=request.cookies.get(COOKIE) or None,
            remote_addr=request.remote_addr or "unknown",
            user_agent=request.headers.get("User-Agent", "")[:300],
            request_id=g.get("request_id", ""),
            accept_language=request.headers.get("Accept-Language", ""),
            base_url=request.host_url,
        )

    # -- the verbs ------------------------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.call("GET", path, params=params).data

    def post(
        self,
        path: str,
        json: Any = None,
        *,
        csrf: str | None = None,
        params: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
    ) -> Answer:
        return self.call("POST", path, json=json, csrf=csrf, params=params, files=files)

    def patch(self, path: str, json: Any = None, *, csrf: str | None = None) -> Answer:
        return self.call("PATCH", path, json=json, csrf=csrf)

    def delete(self, path: str, *, csrf: str | None = None) -> Answer:
        return self.call("DELETE", path, csrf=csrf)

    def raw(self, path: str) -> Answer:
        """A GET whose body is not JSON (CSV reports): errors still raise ApiError."""
        return self.call("GET", path)

    # -- the one place that builds a request -------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        csrf: str | None = None,
        params: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
    ) -> Answer:
        headers = {
            "Accept": "application/json",
            "User-Agent": self.user_agent,
            "X-Portico-Request-Id": self.request_id,
            "Accept-Language": self.accept_language,
        }
        if self.session_token:
            headers["Cookie"] = f"{COOKIE}={self.session_token}"
        if method not in SAFE_METHODS and csrf is not None:
            headers[CSRF_HEADER] = csrf
        builder = EnvironBuilder(
            path=path,
            method=method,
            base_url=self.base_url,
            headers=headers,
            query_string={k: _text(v) for k, v in (params or {}).items() if v not in (None, "")}
            or None,
            json=json if files is None and json is not None else None,
            data=files,
            environ_base={"REMOTE_ADDR": self.remote_addr},
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        # A fresh app context: the inner request gets its own `g` (caller, access, request id).
        with app.app_context():
            app_iter, status_line, response_headers = run_wsgi_app(app, environ, buffered=True)
            try:
                body = b"".join(app_iter)
            finally:
                close = getattr(app_iter, "close", None)
                if close is not None:
                    close()
        status = int(status_line.split(" ", 1)[0])
        self._keep_cookies(response_headers)
        data = _json(body) if "json" in response_headers.get("Content-Type", "") else None
        if status >= 400:
            raise _error(status, data, status_line)
        return Answer(status, data, response_headers, body)

    def _keep_cookies(self, headers: Headers) -> None:
        """Relay the API's Set-Cookie to the browser; follow a new or ended session at once."""
        for value in headers.getlist("Set-Cookie"):
            self.set_cookies.append(value)
            parsed: SimpleCookie = SimpleCookie()
            parsed.load(value)
            if COOKIE in parsed:
                morsel = parsed[COOKIE]
                ended = morsel["max-age"] == "0" or not morsel.value
                self.session_token = None if ended else morsel.value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json(body: bytes) -> Any:
    try:
        return jsonlib.loads(body) if body else None
    except ValueError:
        return None


def _error(status: int, data: Any, status_line: str) -> ApiError:
    body = data if isinstance(data, dict) else {}
    extra = {
        k: v for k, v in body.items() if k not in ("type", "title", "status", "detail", "errors")
    }
    reason = status_line.split(" ", 1)[1] if " " in status_line else str(status)
    return ApiError(
        status,
        body.get("title") or reason,
        body.get("detail") or reason,
        body.get("errors") if isinstance(body.get("errors"), dict) else None,
        extra,
    )


def api() -> ApiCaller:
    """The caller of this browser request, made once."""
    if "web_api" not in g:
        g.web_api = ApiCaller.for_request()
    return g.web_api

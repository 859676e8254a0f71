"""The pages' blueprint and what every page shares: who is signed in, language, forms, errors, headers."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException

from bus.contracts import vocabulary as v
from bus.http import Problem
from bus.http_client import ServiceUnavailable
from gateway.entrypoints.context import gw
from gateway.entrypoints.guards import COOKIE
from gateway.web import i18n, mailbox_pass
from gateway.web.apicall import ApiError, api
from gateway.web.forms import (
    CLIENT_KEY,
    CSRF_COOKIE,
    FORM_TOKEN,
    LEDGER,
    WAIT_SECONDS,
    Outcome,
    new_client_key,
    new_form_token,
    safe_next,
)

log = logging.getLogger(__name__)

web = Blueprint(
    "web",
    __name__,
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/assets",
)

# No inline script or style anywhere: the pages' JavaScript and CSS are files under /assets.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


class SignInRequired(Exception):
    """No live session: the person signs in, then comes back to `next`."""


class PasswordChangeRequired(Exception):
    """The session may only change its password until it does."""


class EnrolmentRequired(Exception):
    """The account's policy requires a second factor: the session may only set one up."""


# the pages a session held to enrolment may open (pages/mfa.py's security page and its forms)
ENROLMENT_PAGES = (
    "web.security",
    "web.start_totp",
    "web.confirm_totp",
    "web.register_passkey",
    "web.renew_codes",
    "web.sign_out",
)


# -- who is signed in -----------------------------------------------------------------------------


def current_user(required: bool = True) -> dict[str, Any] | None:
    """GET /api/v1/me once per request; sets the page language from the user's."""
    if "web_me" in g:
        return g.web_me
    me = None
    if api().session_token:
        try:
            me = api().get("/api/v1/me")
        except ApiError as exc:
            if exc.status != 401:
                raise
            g.web_session_ended = True
    g.web_me = me
    i18n.set_language(
        i18n.choose(me.get("language") if me else None), me.get("language") if me else None
    )
    if me and me.get("language"):  # the API's problems of this page come in the user's language
        api().accept_language = me["language"]
    if me is None and required:
        raise SignInRequired()
    return me


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page for a signed-in person (a session that must change its password goes to that form)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        me = current_user()
        assert me is not None
        if me.get("password_change_required") and request.endpoint not in (
            "web.change_password",
            "web.sign_out",
        ):
            raise PasswordChangeRequired()
        if me.get("mfa_enrolment_required") and not (request.endpoint or "").startswith(
            ENROLMENT_PAGES
        ):  # the account's policy: a second factor is set up before anything else opens
            raise EnrolmentRequired()
        return view(*args, **kwargs)

    return wrapper


def administered_accounts() -> list[dict[str, Any]]:
    """The accounts the caller administers or supervises (GET /api/v1/accounts), once per request."""
    if "web_accounts" not in g:
        g.web_accounts = (
            api().get("/api/v1/accounts", {"per_page": 200})["items"] if is_admin() else []
        )
    return g.web_accounts


def is_admin() -> bool:
    me = g.get("web_me") or {}
    return bool(me.get("administers") or me.get("supervises"))


def csrf_token() -> str:
    return request.cookies.get(CSRF_COOKIE, "")


def form_token() -> str:
    """A new one-time token for a rendered form; the browser gets its key to the ledger with its first."""
    if not isinstance(session.get(CLIENT_KEY), str):
        session[CLIENT_KEY] = new_client_key()
    return new_form_token()


def forget_client() -> None:
    """A new key to the ledger for this browser's next forms (signed out: nothing before replays)."""
    session.pop(CLIENT_KEY, None)


def form_csrf() -> str:
    """The CSRF token this form was rendered with; the API compares it with the session's."""
    return request.form.get("csrf_token", "")


# -- messages and redirects -----------------------------------------------------------------------


def notify(category: str, message: str) -> None:
    """A message for the next page (kept so a repeated submission shows it again)."""
    g.setdefault("web_flashes", []).append((category, message))
    flash(message, category)


def to(endpoint: str, **values: Any) -> Response:
    return redirect(url_for(endpoint, **values), code=303)


def back_to(default_endpoint: str, **values: Any) -> Response:
    """303 to the page the form came from (its `return_to`), if that is a path of this site."""
    fallback = url_for(default_endpoint, **values)
    return redirect(safe_next(request.form.get("return_to"), fallback), code=303)


def sign_in_url(next_path: str | None = None) -> str:
    target = next_path if next_path is not None else here()
    query = {"next": target} if safe_next(target, "") else {}
    return url_for("web.sign_in") + ("?" + urlencode(query) if query else "")


def here() -> str:
    """Where to come back to after signing in: this page (GET) or the page a form came from."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    try:
        return safe_next(request.form.get("return_to"), request.path)
    except HTTPException:  # a body that cannot be read (too large): back to the page itself
        return request.path


def once(view: Callable[..., Any]) -> Callable[..., Any]:
    """A form handler run once per form token; a repeat gets the first outcome again."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = request.form.get(FORM_TOKEN, "")
        client = session.get(CLIENT_KEY)
        if request.method != "POST" or not token or not isinstance(client, str):
            return view(
                *args, **kwargs
            )  # a browser that kept no pages cookie is never answered from the ledger
        scope = request.path
        first, entry = LEDGER.claim(client, token, scope)
        if not first:
            entry.done.wait(WAIT_SECONDS)
            if entry.outcome is not None:
                return replay(entry.outcome)
            if (
                not entry.done.is_set()
            ):  # the first is still running: show the page, do not act twice
                return redirect(here(), code=303)
            return view(*args, **kwargs)
        outcome = None
        try:
            response = view(*args, **kwargs)
            if isinstance(response, Response) and response.status_code in (302, 303):
                outcome = Outcome(
                    response.headers["Location"],
                    list(g.get("web_flashes", [])),
                    list(api().set_cookies) + g.get("web_cookies", []),
                )
            return response
        finally:
            LEDGER.finish(client, token, scope, outcome)

    return wrapper


def replay(outcome: Outcome) -> Response:
    pending = session.get("_flashes", [])
    for category, message in outcome.messages:
        if (category, message) not in pending:
            flash(message, category)
    response = redirect(outcome.location, code=303)
    for cookie in outcome.cookies:
        response.headers.add("Set-Cookie", cookie)
    return response


def render(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(
        render_template(f"web/{template}", **context), status=status, mimetype="text/html"
    )
    return response


_API_REFERENCE = re.compile(
    r"\s*\((?:GET|POST|PUT|PATCH|DELETE) /api/[^)]*\)|;?\s*(?:GET|POST|PUT|PATCH|DELETE) "
    r"/api/\S+ (?:lists who to ask|donne la liste des personnes à qui le demander)"
)


def for_people(detail: str | None) -> str:
    """An API message without the API paths it names for programmers (the page has links instead)."""
    return _API_REFERENCE.sub("", detail or "").strip()


def summary(exc: ApiError) -> str:
    """The line above a form: ours when the API pointed at fields (each shown under its field)."""
    return i18n.translate("form.fix") if exc.errors else for_people(exc.detail)


def field_errors(exc: ApiError) -> dict[str, list[str]]:
    return {name.split(".")[-1]: texts for name, texts in exc.errors.items()}


# -- installed on the app -------------------------------------------------------------------------


def mailbox_enabled() -> bool:
    return not gw().part.settings.smtp_url


def mailbox_open() -> bool:
    """Whether there is a mailbox and this browser holds the operator's pass to it (once per request)."""
    if "web_mailbox_open" not in g:
        settings = gw().part.settings
        g.web_mailbox_open = mailbox_enabled() and mailbox_pass.opens(
            request.cookies.get(mailbox_pass.COOKIE),
            settings.secret_key,
            settings.operator_token,
            gw().now(),
        )
    return bool(g.web_mailbox_open)


@web.context_processor
def page_context() -> dict[str, Any]:
    return {
        "_": i18n.translate,
        "lang": i18n.current(),
        "fmt_date": i18n.format_date,
        "fmt_instant": i18n.format_instant,
        "word": i18n.word,
        "me": g.get("web_me"),
        "is_admin": is_admin(),
        "supervises": bool((g.get("web_me") or {}).get("supervises")),
        "csrf_token": csrf_token(),
        "new_form_token": form_token,
        "mailbox_open": mailbox_open(),
        "here": here(),
        "endpoint": request.endpoint or "",
        "options": options,
        "has_message": i18n.has,
        "for_people": for_people,
    }


def options(group: str) -> list[tuple[str, str]]:
    """(value, label) pairs of a vocabulary, labelled in the page language."""
    values = {
        "title": v.TITLES,
        "language": v.LANGUAGES,
        "family": v.FAMILIES,
        "subscription_status": v.SUBSCRIPTION_STATUSES,
        "user_status": v.USER_STATUSES,
        "level": v.PASSWORD_LEVELS,
    }[group]
    return [(str(value), i18n.word(group, value)) for value in values]


@web.before_request
def start_page() -> None:
    g.web_flashes = []
    if request.method not in SAFE_METHODS:
        refuse_cross_site_form()


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CrossSiteForm(Exception):
    """A form post that does not say it comes from a page of this site (login CSRF and the like)."""

    def __init__(self, origin: str | None) -> None:
        super().__init__(origin)
        self.origin = origin


def refuse_cross_site_form() -> None:
    """Every form of the pages is posted by a page of this site: its Origin (else its Referer) says so.

    Forms sent without a session (sign-in, activation, reset, forgotten password, the mailbox's
    unlock) have no session CSRF token to check, so this is what stops another site from posting
    them in a visitor's browser; the forms of a session get it on top of the API's CSRF check.
    """
    sent = request.headers.get("Origin")
    if sent is None and request.referrer:
        sent = origin_of(request.referrer) or "null"
    if sent is None or sent not in site_origins():
        raise CrossSiteForm(sent if sent is None or len(sent) <= 200 else sent[:200] + "…")


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of an absolute http(s) URL, as a browser writes it in Origin."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def site_origins() -> set[str]:
    """This site as browsers name it: its public URL, and the address this request was sent to."""
    return {
        found
        for found in (origin_of(gw().part.settings.public_url), origin_of(request.host_url))
        if found
    }


@web.after_request
def page_headers(response: Response) -> Response:
    for cookie in api().set_cookies if "web_api" in g else []:
        if cookie not in response.headers.getlist("Set-Cookie"):
            response.headers.add("Set-Cookie", cookie)
    for cookie in g.get("web_cookies", []):
        response.headers.add("Set-Cookie", cookie)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "web.static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# -- errors as pages ------------------------------------------------------------------------------


@web.errorhandler(SignInRequired)
def _sign_in(_exc: SignInRequired) -> Response:
    if g.get("web_session_ended") or request.cookies.get(COOKIE):
        flash(i18n.translate("flash.session_ended"), "info")
        keep_draft()
    return redirect(sign_in_url(), code=303)


DRAFT_SKIPPED = ("csrf_token", "form_token", "return_to")
DRAFT_MAX_CHARS = 2000


def keep_draft() -> None:
    """A form sent after the session ended: keep what was typed (never a password) for after sign-in."""
    if request.method != "POST":
        return
    fields = {
        name: value
        for name, value in request.form.items()
        if name not in DRAFT_SKIPPED and "password" not in name
    }
    if fields and sum(len(k) + len(v) for k, v in fields.items()) <= DRAFT_MAX_CHARS:
        session["web_draft"] = {"path": here(), "fields": fields}


def take_draft(values: dict[str, Any]) -> dict[str, Any]:
    """`values` overlaid with the draft kept for this page, if any (it is used once)."""
    draft = session.get("web_draft")
    if not draft or draft.get("path") != request.full_path.rstrip("?"):
        return values
    session.pop("web_draft", None)
    notify("info", i18n.translate("flash.draft_restored"))
    return {**values, **draft.get("fields", {})}


@web.errorhandler(CrossSiteForm)
def _cross_site(exc: CrossSiteForm) -> Response:
    if exc.origin is None:
        detail = i18n.translate("error.no_origin")
    else:
        detail = i18n.translate("error.cross_site", origin=exc.origin)
    log.warning(
        "page %s %s refused: posted from %s",
        request.method,
        request.path,
        exc.origin or "an unsaid origin",
    )
    return error_page(403, detail)


@web.errorhandler(PasswordChangeRequired)
def _password_change(_exc: PasswordChangeRequired) -> Response:
    flash(i18n.translate("flash.password_change_required"), "info")
    return to("web.change_password")


@web.errorhandler(EnrolmentRequired)
def _enrolment(_exc: EnrolmentRequired) -> Response:
    flash(i18n.translate("mfa.enrol_first"), "info")
    return to("web.security")


@web.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    if exc.status == 401:
        g.web_session_ended = True
        return _sign_in(SignInRequired())
    if exc.csrf_mismatch:
        flash(i18n.translate("flash.form_expired"), "error")
        return redirect(here(), code=303)
    return error_page(exc.status, exc.detail, retry_after=exc.extra.get("retry_after"))


@web.errorhandler(Problem)
def _problem(exc: Problem) -> Response:
    # 413 (a file over the cap) reads better as words than as a count of bytes
    return error_page(exc.status, None if exc.status == 413 else exc.detail)


@web.errorhandler(ServiceUnavailable)
def _unavailable(exc: ServiceUnavailable) -> Response:
    log.warning("page %s: %s", request.path, exc)
    return error_page(503, i18n.translate("error.unavailable_detail"))


@web.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    return error_page(exc.code or 500, None)


@web.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    log.exception("page %s %s failed", request.method, request.path)
    return error_page(500, None)


def error_page(status: int, detail: str | None, **extra: Any) -> Response:
    if "web_me" not in g:
        try:
            current_user(required=False)
        except Exception:  # noqa: BLE001 - an error page must render even when /me fails
            g.web_me = None
    known = (
        status if status in (403, 404, 409, 410, 413, 429, 503) else (400 if status < 500 else 500)
    )
    return render("error.html", status=status, code=known, detail=detail, **extra)


# -- lists ----------------------------------------------------------------------------------------


def list_args(*names: str) -> dict[str, str]:
    """The filters of a list page, as typed (empty ones left out)."""
    return {
        name: request.args.get(name, "").strip()
        for name in names
        if request.args.get(name, "").strip()
    }


def page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def pagination(data: dict[str, Any]) -> dict[str, Any]:
    """“Displaying items 1 - 10 of 61” and the page links of an {items, page, per_page, total} answer."""
    page, per_page, total = (
        int(data.get("page") or 1),
        int(data.get("per_page") or 10),
        int(data.get("total") or 0),
    )
    pages = max(1, -(-total // per_page))
    start = (page - 1) * per_page + 1 if total else 0
    end = min(total, page * per_page)

    def link(number: int) -> str:
        args = request.args.to_dict()
        args["page"] = str(number)
        return request.path + "?" + urlencode(args)

    shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    return {
        "page": page,
        "pages": pages,
        "start": start,
        "end": end,
        "total": total,
        "links": [(number, link(number), number == page) for number in shown],
        "previous": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
    }


class NotAdministrator(Exception):
    """The page is for administrators and the caller administers no account."""


def chosen_account(
    accounts: list[dict[str, Any]] | None = None, value: str | None = None
) -> dict[str, Any]:
    """The account a page works on: the one asked for when in reach, else the caller's own, else the first."""
    accounts = administered_accounts() if accounts is None else accounts
    if not accounts:
        raise NotAdministrator()
    wanted = value if value is not None else (request.values.get("account") or "")
    me = g.get("web_me") or {}
    for account in accounts:
        if account["id"] == wanted:
            return account
    return next((a for a in accounts if a["id"] == me.get("account_id")), accounts[0])


@web.errorhandler(NotAdministrator)
def _not_admin(_exc: NotAdministrator) -> Response:
    return error_page(403, i18n.translate("error.admins_only"))

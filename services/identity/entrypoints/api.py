"""The identity service's internal HTTP API (called by the gateway with the service token).

Each view parses, calls one handler in one unit of work, and shapes the answer; the contract
is the identity table of docs/internal-api.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, jsonify, request

from bus.http import (
    Problem,
    current_part,
    install_problem_handlers,
    ops_blueprint,
    problem_response,
    require_service_token,
)
from bus.input_checks import install_input_checks
from bus.pagination import Page
from bus.part import Part
from services.identity.domain import model
from services.identity.entrypoints import schemas
from services.identity.service_layer import (
    accounts,
    activation,
    common,
    email_change,
    passwords,
    sign_in,
    user_lists,
    users,
)
from services.identity.service_layer.common import OPERATOR, Actor
from services.identity.service_layer.errors import IdentityError

T = TypeVar("T")
bp = Blueprint("identity", __name__, url_prefix="/internal")


def run(handler: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call one handler in one unit of work and commit what it did."""
    with current_part().uow() as uow:
        result = handler(uow, *args, **kwargs)
        uow.commit()
    return result


def actor() -> Actor:
    return Actor.from_header(request.headers.get("X-Portico-Actor"))


def page() -> Page:
    return Page.parse(request.args.get("page"), request.args.get("per_page"))


def created(view: dict[str, Any], event: Any, status: int = 201) -> tuple[Response, int]:
    return jsonify({**view, "event_id": event.id if event else None}), status


def no_content() -> tuple[str, int]:
    return "", 204


# --- accounts and the operator -------------------------------------------------------------

@bp.post("/accounts")
def create_account():  # type: ignore[no-untyped-def]
    body = schemas.load(schemas.AccountIn)
    with current_part().uow() as uow:
        account = accounts.create_account(
            uow, body["number"], body["name"], body["parent_number"], body["relation"],
            actor=Actor.from_header(request.headers.get("X-Portico-Actor") or "operator"))
        uow.commit()
    return created(account, uow.published[0])


@bp.get("/accounts/by-number/<number>")
def get_account_by_number(number: str):  # type: ignore[no-untyped-def]
    return jsonify(run(accounts.get_account_by_number, number))


@bp.get("/accounts/<account_id>")
def get_account(account_id: str):  # type: ignore[no-untyped-def]
    return jsonify(run(accounts.get_account, account_id))


@bp.post("/accounts/by-number/<number>/administrators")
def create_administrator(number: str):  # type: ignore[no-untyped-def]
    body = schemas.load(schemas.OperatorAdministratorIn)
    body.setdefault("password_level", 2)

    def handle(uow: Any) -> Any:
        account = accounts.get_account_by_number(uow, number)
        return users.create_user(uow, account["id"], body, actor=OPERATOR,
                                 source="operator", grant_administration=True)

    return created(*run(handle))


@bp.get("/accounts/<account_id>/administrators")
def list_administrators(account_id: str):  # type: ignore[no-untyped-def]
    return jsonify(run(accounts.list_administrators, account_id, page()))


@bp.get("/accounts/<account_id>/audit")
def account_audit(account_id: str):  # type: ignore[no-untyped-def]
    return jsonify(run(lambda uow: (accounts.get_account(uow, account_id),
                                    common.list_account_audit(uow, account_id, page()))[1]))


# --- administration of an account's users -------------------------------------------------

@bp.get("/accounts/<account_id>/users")
def list_users(account_id: str):  # type: ignore[no-untyped-def]
    filters = {name: request.args.get(name) for name in
               ("name", "email", "function", "status", "administrators_only")}
    return jsonify(run(user_lists.list_users, account_id, filters, page()))


@bp.get("/accounts/<account_id>/users/summary")
def users_summary(account_id: str):  # type: ignore[no-untyped-def]
    return jsonify(run(user_lists.users_summary, account_id, request.args.get("since")))


@bp.post("/accounts/<account_id>/users")
def create_user(account_id: str):  # type: ignore[no-untyped-def]
    body = schemas.load(schemas.UserCreateIn)
    return created(*run(users.create_user, account_id, body, actor=actor(), source="admin",
                        email_required=False))


@bp.get("/accounts/<account_id>/users/<user_id>")
def get_user(account_id: str, user_id: str):  # type: ignore[no-untyped-def]
    return jsonify(run(users.get_user, account_id, user_id))


@bp.patch("/accounts/<account_id>/users/<user_id>")
def update_user(account_id: str, user_id: str):  # type: ignore[no-untyped-def]
    body = schemas.load(schemas.AdminUserPatchIn)
    view, event = run(lambda uow: users.update_user(
        uow, users.user_in_account(uow, account_id, user_id, for_update=True), body, actor=actor()))
    return created(view, event, 200)


@bp.delete("/accounts/<account_id>/users/<user_id>")
def delete_user(account_id: str, user_id: str):  # type: ignore[no-untyped-def]
    run(users.delete_user, account_id, user_id, actor=actor())
    return no_content()


@bp.post("/accounts/<account_id>/users/<user_id>/unlock")
def unlock_user(account_id: str, user_id: str):  # type: ignore[no-untyped-def]
    run(sign_in.unlock_user, account_id, user_id, actor=actor())
    return no_content()


@bp.post("/accounts/<account_id>/activation-emails")
def resend_activations(account_id: str):  # type: ignore[no-untyped-def]
    body = schemas.load(schemas.UserIdsIn)
    answer = run(lambda uow: (accounts.get_account(uow, account_id), users.resend_activations(
        uow, account_id, body["user_ids"], actor=actor()))[1])
    return jsonify(answer), 202


@bp.post("/emails/taken")
def emails_taken():  # type: ignore[no-untyped-def]
    return jsonify(run(user_lists.emails_taken, schemas.load(schemas.EmailsIn)["emails"]))


# --- signing in and the links sent by e-mail ----------------------------------------------

@bp.post("/sign-in")
def sign_in_user():  # type: ignore[no-untyped-def]
    body = schemas.load(schemas.SignInIn)
    result = run(sign_in.sign_in, body["email"], body["password"], ip=body["ip"],
                 user_agent=body["user_agent"])
    if result.outcome == "ok":
        return jsonify(user=result.user, password_change_required=result.password_change_required)
    if result.outcome == "locked":
        raise Problem(423, "Locked", _locked_message())
    raise Problem(401, "Unauthorized", model.SIGN_IN_FAILED)


def _locked_message() -> str:
    try:
        model.ensure_can_sign_in(model.UserStatus.LOCKED)
    except model.SignInRefused as refusal:
        return refusal.message
    raise AssertionError("a locked status must refuse the sign-in")  # pragma: no cover


@bp.get("/activations/<token>")
def read_activation(token: str):  # type: ignore[no-untyped-def]
    return jsonify(run(activation.read_activation, token))


@bp.post("/activations/<token>")
def activate_user(token: str):  # type: ignore[no-untyped-def]
    return created(*run(activation.activate_user, token, schemas.load(schemas.ActivationIn)))


@bp.post("/password-resets")
def request_password_reset():  # type: ignore[no-untyped-def]
    body = schemas.load(schemas.ResetRequestIn)

    def handle(uow: Any) -> dict[str, str]:
        passwords.request_password_reset(uow, body["email"], ip=body["ip"], user_agent=body["user_agent"])
        return passwords.reset_answer(uow)

    return jsonify(run(handle)), 202


@bp.post("/password-resets/<token>")
def reset_password(token: str):  # type: ignore[no-untyped-def]
    run(passwords.reset_password, token, schemas.load(schemas.PasswordIn)["password"])
    return no_content()


@bp.post("/email-changes/<token>")
def confirm_email_change(token: str):  # type: ignore[no-untyped-def]
    run(email_change.confirm_email_change, token)
    return no_content()


# --- the signed-in user -------------------------------------------------------------------

@bp.get("/users/<user_id>")
def get_me(user_id: str):  # type: ignore[no-untyped-def]
    return jsonify(run(users.get_me, user_id))


@bp.patch("/users/<user_id>")
def update_me(user_id: str):  # type: ignore[no-untyped-def]
    body = schemas.load(schemas.ProfileIn)
    view, event = run(lambda uow: users.update_user(
        uow, users.existing_user(uow, user_id, for_update=True), body, actor=Actor(user_id, "self")))
    return created(view, event, 200)


@bp.post("/users/<user_id>/password")
def change_password(user_id: str):  # type: ignore[no-untyped-def]
    body = schemas.load(schemas.PasswordChangeIn)
    run(passwords.change_password, user_id, body["current_password"], body["new_password"])
    return no_content()


@bp.post("/users/<user_id>/email-change")
def request_email_change(user_id: str):  # type: ignore[no-untyped-def]
    body = schemas.load(schemas.EmailChangeIn)
    event = run(email_change.request_email_change, user_id, body["new_email"])
    detail = ("A confirmation link was sent to the new address; the address changes when it is"
              " clicked.")
    return jsonify(detail=detail, event_id=event.id), 202


@bp.get("/users/<user_id>/audits")
def user_audits(user_id: str):  # type: ignore[no-untyped-def]
    return jsonify(run(lambda uow: (users.existing_user(uow, user_id),
                                    common.list_user_audits(uow, user_id, page()))[1]))


@bp.get("/users/<user_id>/dashboard")
def user_dashboard(user_id: str):  # type: ignore[no-untyped-def]
    """The profile page's identity panels in one call (one request, one transaction): what
    /users/{id}/audits, /accounts/{a}/administrators and, with users=1, /accounts/{a}/users/summary
    answer, for the user's own account."""
    return jsonify(run(user_lists.dashboard, user_id, since=request.args.get("since"),
                       with_users=request.args.get("users") == "1"))


def _identity_error(error: IdentityError) -> Response:
    return problem_response(Problem(error.status, error.title, error.detail, errors=error.errors))


def create_app(part: Part) -> Flask:
    app = Flask(__name__)
    app.extensions["portico.part"] = part
    install_problem_handlers(app)
    app.register_error_handler(IdentityError, _identity_error)
    require_service_token(app, part.settings.service_token)
    install_input_checks(app)
    app.register_blueprint(ops_blueprint(part.readiness))
    app.register_blueprint(bp)
    return app

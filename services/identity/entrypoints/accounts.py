"""/internal/accounts: client accounts, and the operator's administrators of an account."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from bus.http import current_part
from services.identity.entrypoints import schemas
from services.identity.entrypoints.common import created, page, run
from services.identity.service_layer import accounts
from services.identity.service_layer.common import Actor

bp = Blueprint("accounts", __name__, url_prefix="/internal/accounts")


@bp.post("")
def create_account() -> ResponseReturnValue:
    body = schemas.load(schemas.AccountIn)
    with current_part().uow() as uow:
        account = accounts.create_account(
            uow,
            body["number"],
            body["name"],
            body["parent_number"],
            body["relation"],
            actor=Actor.from_header(request.headers.get("X-Portico-Actor") or "operator"),
        )
        uow.commit()
    return created(account, uow.published[0])


@bp.get("/by-number/<number>")
def get_account_by_number(number: str) -> ResponseReturnValue:
    return jsonify(run(accounts.get_account_by_number, number))


@bp.get("/<account_id>")
def get_account(account_id: str) -> ResponseReturnValue:
    return jsonify(run(accounts.get_account, account_id))


@bp.post("/by-number/<number>/administrators")
def create_administrator(number: str) -> ResponseReturnValue:
    body = schemas.load(schemas.OperatorAdministratorIn)
    return created(*run(accounts.create_administrator, number, body))


@bp.get("/<account_id>/administrators")
def list_administrators(account_id: str) -> ResponseReturnValue:
    return jsonify(run(accounts.list_administrators, account_id, page()))

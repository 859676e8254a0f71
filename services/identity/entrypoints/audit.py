"""The audit trail: an account's (/internal/accounts/{id}/audit) and a user's (/internal/users/{id}/audits)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from services.identity.entrypoints.common import page, run
from services.identity.service_layer import common

bp = Blueprint("audit", __name__, url_prefix="/internal")


@bp.get("/accounts/<account_id>/audit")
def account_audit(account_id: str) -> ResponseReturnValue:
    return jsonify(run(common.list_account_audit, account_id, page()))


@bp.get("/users/<user_id>/audits")
def user_audits(user_id: str) -> ResponseReturnValue:
    return jsonify(run(common.list_user_audits, user_id, page()))

"""/internal/users/{user_id}/dashboard: the profile page's identity panels in one call."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from services.identity.entrypoints.common import run
from services.identity.service_layer import user_lists

bp = Blueprint("dashboard", __name__, url_prefix="/internal")


@bp.get("/users/<user_id>/dashboard")
def user_dashboard(user_id: str) -> ResponseReturnValue:
    """One request, one transaction: what /users/{id}/audits, /accounts/{a}/administrators and,
    with users=1, /accounts/{a}/users/summary answer, for the user's own account."""
    return jsonify(
        run(
            user_lists.dashboard,
            user_id,
            since=request.args.get("since"),
            with_users=request.args.get("users") == "1",
        )
    )

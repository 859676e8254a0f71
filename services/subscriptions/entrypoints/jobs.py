"""/internal/jobs/...: periodic work run on demand (operators and tests)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from bus.http import current_part
from services.subscriptions.service_layer.expiry import expire_subscriptions

from . import schemas

bp = Blueprint("jobs", __name__, url_prefix="/internal/jobs")


@bp.post("/expire")
def expire() -> ResponseReturnValue:
    today = schemas.body(schemas.ExpireBody, optional=True)["today"]
    report = expire_subscriptions(current_part().uow(), today)
    return jsonify(
        today=report.today.isoformat(),
        expired=report.expired,
        skipped_last_admin=report.skipped_last_admin,
        event_ids=report.event_ids,
        event_id=report.event_ids[0] if report.event_ids else None,
    )

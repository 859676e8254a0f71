"""Has this part applied an event yet? Answered from its consumer receipts (`bus_processed`).

The gateway asks it before forwarding a call that may depend on the caller's own earlier write
(read-your-writes across services, docs/internal-api.md): `GET /internal/processed/{event_id}
?type=<event type>`. A part that does not consume that type has nothing to wait for.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from bus.http import Problem, current_part
from bus.i18n import _l

MAX_ID = 64


def is_processed(part: Any, event_id: str) -> bool:
    """True once the part's consumer committed this event's effects (its receipt is written in
    the same transaction)."""
    table = part.processed_table
    with part.engine.connect() as conn:
        return (
            conn.execute(
                sa.select(table.c.message_id).where(table.c.message_id == event_id)
            ).first()
            is not None
        )


def receipts_blueprint() -> Blueprint:
    """`GET /internal/processed/{event_id}?type=`: whether this part has applied the event."""
    bp = Blueprint("receipts", __name__)

    @bp.get("/internal/processed/<event_id>")
    def processed(event_id: str) -> ResponseReturnValue:
        event_type = request.args.get("type", "")
        if not event_type or len(event_type) > 120:
            raise Problem(
                422,
                "Unprocessable Entity",
                _l("Say which event type this is (?type=...).", code="receipt.type_missing"),
                errors={"type": [_l("Give the event's type, e.g. identity.user.created.")]},
            )
        if len(event_id) > MAX_ID:
            raise Problem(
                422,
                "Unprocessable Entity",
                _l(
                    "An event id has at most {most} characters.",
                    code="validation.too_long",
                    most=MAX_ID,
                ),
                errors={"event_id": [_l("At most {most} characters.", most=MAX_ID)]},
            )
        part = current_part()
        consumed = event_type in part.handlers
        done = is_processed(part, event_id) if consumed else True
        return jsonify(event_id=event_id, type=event_type, consumed=consumed, processed=done)

    return bp

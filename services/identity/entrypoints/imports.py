"""/internal/emails/taken: which addresses already have a user (the importer's dry run)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from services.identity.entrypoints import schemas
from services.identity.entrypoints.common import run
from services.identity.service_layer import user_lists

bp = Blueprint("imports", __name__, url_prefix="/internal")


@bp.post("/emails/taken")
def emails_taken() -> ResponseReturnValue:
    return jsonify(run(user_lists.emails_taken, schemas.load(schemas.EmailsIn)["emails"]))

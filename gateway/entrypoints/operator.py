"""Operator endpoints (the vendor's staff and scripts), behind PORTICO_OPERATOR_TOKEN."""

from __future__ import annotations

import hmac

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from bus.contracts import vocabulary as v
from bus.http import Problem
from bus.http_client import segment as q
from bus.i18n import _l, remember
from gateway.entrypoints import imports
from gateway.entrypoints.context import gw
from gateway.entrypoints.forward import as_page, propagation, service
from gateway.entrypoints.imports import ImportFile
from gateway.entrypoints.schemas import (
    AccountCreated,
    AccountSchema,
    ImportArgs,
    ImportJob,
    PropagationSchema,
    ServicesWritten,
    UserWritten,
    name_field,
)
from gateway.service_layer.own_writes import apply_account

blp = Blueprint("operator", __name__, url_prefix="/api/v1/operator", description="Operator API")


@blp.before_request
def require_operator() -> None:
    token = gw().part.settings.operator_token
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise Problem(
            401,
            "Unauthorized",
            _l(
                "This endpoint needs the operator token (Authorization: Bearer ...).",
                code="auth.operator_token",
            ),
        )
    g.actor = "operator"


class AccountIn(Schema):
    number = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[0-9A-Za-z-]{1,32}$",
            error=remember(
                _l(
                    "A client number has 1 to 32 letters, digits or dashes.",
                    code="validation.client_number",
                )
            ),
        ),
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    parent_number = fields.String(load_default=None, allow_none=True)
    relation = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(v.RELATIONS)
    )


class AdministratorIn(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    title = fields.String(required=True, validate=validate.OneOf(v.TITLES))
    last_name = name_field()
    first_name = name_field()
    language = fields.String(required=True, validate=validate.OneOf(v.LANGUAGES))
    password_level = fields.Integer(
        load_default=None, allow_none=True, validate=validate.OneOf(v.PASSWORD_LEVELS)
    )


class CatalogIn(Schema):
    services = fields.List(fields.String(validate=validate.Length(min=1, max=200)), required=True)


class ContentIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(v.CONTENT_KINDS))
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    url = fields.Url(required=True, schemes={"http", "https"})


class ContentOut(ContentIn):
    propagation = fields.Nested(PropagationSchema)


@blp.route("/accounts")
class Accounts(MethodView):
    @blp.arguments(AccountIn)
    @blp.response(201, AccountCreated)
    def post(self, body):
        """Create a client account (optionally a third-party associate of another)."""
        account = service("identity").post("/internal/accounts", json=body)
        event_id = account.get("event_id")
        apply_account(gw().part, account, event_id)
        return {
            **account,
            "propagation": propagation(
                account, applied=True, event_type="identity.account.created"
            ),
        }


@blp.route("/accounts/<number>")
class Account(MethodView):
    @blp.response(200, AccountSchema)
    def get(self, number):
        """Read an account by its client number (404 when none has it)."""
        return service("identity").get(f"/internal/accounts/by-number/{q(number)}")


@blp.route("/accounts/<number>/administrators")
class Administrators(MethodView):
    @blp.arguments(AdministratorIn)
    @blp.response(201, UserWritten)
    def post(self, body, number):
        """Create an administrator of the account; identity sends the activation e-mail."""
        body = {k: val for k, val in body.items() if val is not None}
        user = service("identity").post(
            f"/internal/accounts/by-number/{q(number)}/administrators", json=body
        )
        return {**user, "propagation": propagation(user, event_type="identity.user.created")}


@blp.route("/accounts/<number>/catalog")
class Catalog(MethodView):
    @blp.arguments(CatalogIn)
    @blp.response(200, ServicesWritten)
    def put(self, body, number):
        """Set which catalog services the account's contracts give."""
        answer = service("subscriptions").put(
            f"/internal/accounts/by-number/{q(number)}/catalog", json=body
        )
        event = propagation(
            answer, event_type="subscriptions.subscription.cancelled"
        )  # services withdrawn
        return {"items": as_page(answer)["items"], "propagation": event}


@blp.route("/content")
class Content(MethodView):
    @blp.arguments(ContentIn)
    @blp.response(202, ContentOut)
    def post(self, body):
        """Announce new content to the users subscribed to its notification service."""
        with gw().part.uow() as uow:
            envelope = uow.publish("content.published", body)
            uow.commit()
        return {**body, "propagation": {"status": "pending", "event_id": envelope.id}}


def account_id_of(number: str) -> str:
    return service("identity").get(f"/internal/accounts/by-number/{q(number)}")["id"]


@blp.route("/accounts/<number>/imports")
class OperatorImports(MethodView):
    @blp.arguments(ImportArgs, location="query", unknown="raise")
    @blp.arguments(ImportFile, location="files", required=True)
    @blp.response(202, ImportJob)
    def post(self, args, files, number):
        """Import users into the account as the operator (batch jobs): as the administrators' import."""
        return imports.upload_file(account_id_of(number), args["dry_run"], files)


@blp.route("/accounts/<number>/imports/<import_id>")
class OperatorImport(MethodView):
    @blp.response(200, ImportJob)
    def get(self, number, import_id):
        """An import job's progress and anomalies."""
        return imports.read_job(account_id_of(number), import_id)


@blp.route("/accounts/<number>/imports/<import_id>/report.csv")
class OperatorImportReport(MethodView):
    @blp.response(
        200, content_type="text/csv", description="the anomalies, safe against formula injection"
    )
    def get(self, number, import_id):
        """The anomalies as a CSV file."""
        return imports.report_csv(account_id_of(number), import_id)

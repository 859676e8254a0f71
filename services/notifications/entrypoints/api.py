"""The notifications service's internal HTTP API (called by the gateway with the service token):
the built-in mailbox of the embedded mode and the delivery log."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, request

from bus.http import (
    Problem,
    current_part,
    install_problem_handlers,
    ops_blueprint,
    problem_response,
    require_service_token,
)
from bus.i18n import _l
from bus.input_checks import install_input_checks
from bus.pagination import Page
from bus.part import Part
from services.notifications.service_layer import views

bp = Blueprint("notifications", __name__, url_prefix="/internal")


@bp.get("/mailbox")
def list_mailbox() -> Response:
    page = Page.parse(request.args.get("page"), request.args.get("per_page"), default_per_page=20)
    with current_part().session_factory() as session:
        return jsonify(views.list_mailbox(session, page, to=request.args.get("to")))


@bp.get("/mailbox/<int:mail_id>")
def show_mail(mail_id: int) -> Response:
    with current_part().session_factory() as session:
        return jsonify(views.show_mail(session, mail_id))


@bp.get("/mailbox/<int:mail_id>/attachments/<int:index>")
def mail_attachment(mail_id: int, index: int) -> Response:
    with current_part().session_factory() as session:
        filename, mimetype, content = views.mail_attachment(session, mail_id, index)
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/deliveries")
def list_deliveries() -> Response:
    page = Page.parse(request.args.get("page"), request.args.get("per_page"), default_per_page=20)
    with current_part().session_factory() as session:
        return jsonify(views.list_deliveries(session, page, status=request.args.get("status")))


def create_app(part: Part) -> Flask:
    app = Flask(__name__)
    app.extensions["portico.part"] = part
    install_problem_handlers(app)
    require_service_token(app, part.settings.service_token)
    install_input_checks(app)
    app.register_blueprint(ops_blueprint(part.readiness))
    app.register_blueprint(bp)

    @app.errorhandler(views.Invalid)
    def _invalid(exc: views.Invalid) -> Response:
        return problem_response(
            Problem(
                422,
                "Invalid query",
                _l("Some parameters are not valid; see errors."),
                errors=exc.errors,
            )
        )

    @app.errorhandler(views.NotFound)
    def _not_found(exc: views.NotFound) -> Response:
        return problem_response(Problem(404, "Not found", exc.args[0] if exc.args else str(exc)))

    return app

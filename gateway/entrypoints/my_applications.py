"""The signed-in user's connected applications (docs/api.md, "Single sign-on"): which of the
portal's applications hold a grant for them, and revoking one (OWASP ASVS 4.0.3 V3.5.1).

The grants are the OpenID Connect provider's, in the gateway's own tables: nothing is forwarded.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from bus.clock import iso
from bus.http import Problem
from gateway.entrypoints.context import caller, gw
from gateway.service_layer.connected_apps import (
    ConnectedApplication,
    connected_applications,
    disconnect_application,
)

blp = Blueprint(
    "my_applications",
    __name__,
    url_prefix="/api/v1/me/applications",
    description="The applications the signed-in user is signed in to through the portal",
)

NOT_CONNECTED = (
    "This application holds no sign-in of yours (it may have been disconnected already)."
)


class ApplicationOut(Schema):
    client_id = fields.String(metadata={"example": "c-4Zp8Qe1rT6wYbN2m"})
    name = fields.String(metadata={"example": "Planning"})
    scopes = fields.List(fields.String(), metadata={"example": ["email", "openid", "profile"]})
    first_signed_in_at = fields.String(
        metadata={
            "format": "date-time",
            "description": "the oldest sign-in it still holds",
            "example": "2025-01-06T09:00:00Z",
        }
    )
    last_used_at = fields.String(
        metadata={
            "format": "date-time",
            "description": "its last sign-in or token refresh",
            "example": "2025-01-08T14:30:00Z",
        }
    )
    sign_ins = fields.Integer(
        metadata={"description": "its live sign-ins (one per browser or device)", "example": 1}
    )


class ApplicationsOut(Schema):
    items = fields.List(fields.Nested(ApplicationOut))
    total = fields.Integer(metadata={"example": 1})


def shown(app: ConnectedApplication) -> dict[str, Any]:
    return {
        "client_id": app.client_id,
        "name": app.name,
        "scopes": list(app.scopes),
        "first_signed_in_at": iso(app.first_signed_in_at),
        "last_used_at": iso(app.last_used_at),
        "sign_ins": app.sign_ins,
    }


@blp.route("")
class MyApplications(MethodView):
    @blp.response(200, ApplicationsOut)
    def get(self):
        """The applications holding a grant for the caller (a live refresh token), the most
        recently used first."""
        items = [shown(app) for app in connected_applications(gw().part, caller().user_id)]
        return {"items": items, "total": len(items)}


@blp.route("/<client_id>")
class MyApplication(MethodView):
    @blp.response(204)
    def delete(self, client_id):
        """Disconnect an application: every refresh token it holds for the caller, and the access
        tokens they gave, are revoked at once."""
        if not disconnect_application(gw().part, caller().user_id, client_id):
            raise Problem(404, "Not Found", NOT_CONNECTED)

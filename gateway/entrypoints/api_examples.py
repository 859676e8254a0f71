"""Examples in the OpenAPI document: each field of the API's schemas gets a realistic value, so
every request body and answer of /api/v1/docs reads like one the portal sends or receives."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from apispec import APISpec, BasePlugin

ACCOUNT_ID = "0b6f4e2a-8c1d-4f3e-9a57-3d2c1b0a9f8e"
USER_ID = "5d3c2b1a-7e6f-4a9b-8c7d-6e5f4a3b2c1d"
SERVICE_ID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
SUBSCRIPTION_ID = "2e1d0c9b-8a7f-4e6d-9c5b-4a3f2e1d0c9b"
IMPORT_ID = "7c6b5a49-3827-4160-9f8e-7d6c5b4a3928"
WHEN = "2025-01-06T09:00:00Z"

# A value for each field name, whichever schema it is in.
FIELDS: dict[str, Any] = {
    "id": USER_ID,
    "account_id": ACCOUNT_ID,
    "user_id": USER_ID,
    "service_id": SERVICE_ID,
    "subscription_id": SUBSCRIPTION_ID,
    "event_id": "c4b3a291-8f7e-4d6c-9b5a-493827160f5e",
    "number": "90293531",
    "name": "Retail IT Limited",
    "parent_id": None,
    "parent_number": None,
    "relation": None,
    "role": "administrator",
    "email": "mark.hughes@example.com",
    "new_email": "mark.hughes@example.org",
    "title": "M",
    "last_name": "Hughes",
    "first_name": "Mark",
    "language": "en-GB",
    "function": "IT Manager",
    "office_phone": "+44 20 7946 0958",
    "mobile_phone": "+44 7700 900123",
    "password_level": 2,
    "status": "active",
    "is_administrator": True,
    "created_at": WHEN,
    "activated_at": "2025-01-06T09:12:00Z",
    "last_sign_in_at": "2025-01-07T08:30:00Z",
    "password": "Sunny-Garden-42!",
    "current_password": "Sunny-Garden-42!",
    "new_password": "Quiet-River-77?",
    "password_change_required": False,
    "token": "kS3v9Qm2Xr7LpA4tYc8WnB1eHd6uJf0zGo5iVx2aRs",
    "csrf_token": "T7pQ2mX9vL4cR8nB3wY6eK1sH5dJ0fZa",
    "expires_at": "2025-01-07T20:30:00Z",
    "administers": [ACCOUNT_ID],
    "supervises": [],
    "code": "invoice_viewing",
    "family": "online_services",
    "description": "Read and download the invoices of your account.",
    "requires_validation": True,
    "auto_subscribe": False,
    "min_password_level": 1,
    "subscriber_count": 12,
    "service_ids": [SERVICE_ID],
    "user_ids": [USER_ID],
    "services": ["invoice_viewing", "planning_of_services"],
    "requested_at": WHEN,
    "decided_at": "2025-01-06T10:00:00Z",
    "decided_by": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
    "expires_on": "2025-12-31",
    "reason": None,
    "effective": True,
    "kind": "faq",
    "url": "https://portal.example.com/faq/invoices",
    "file": "users.csv",
    "dry_run": False,
    "filename": "users.csv",
    "rows": 120,
    "processed": 120,
    "created": 118,
    "rejected": 2,
    "would_create": None,
    "anomalies_total": 2,
    "line": 4,
    "field": "email",
    "message": "This address is already used in the portal.",
    "report_url": f"https://portal.example.com/api/v1/accounts/{ACCOUNT_ID}/imports/{IMPORT_ID}/report.csv",
    "started_at": "2025-01-06T09:00:02Z",
    "finished_at": "2025-01-06T09:00:09Z",
    "sent": 3,
    "skipped": 1,
    "detail": "If the address is known, a message with a link was sent to it.",
    "unavailable": False,
    "accepted": 4,
    "pending": 1,
    "refused": 0,
    "not_subscribed": 20,
    "new_since_last_sign_in": 2,
    "without_subscriber": 5,
    "pending_validation": 1,
    "active": 40,
    "pending_activation": 3,
    "without_email": 2,
    "page": 1,
    "per_page": 10,
    "total": 1,
    "items": [],
    "password_rules": [
        {
            "code": "too_short",
            "text": "The password must be at least 8 characters long.",
            "value": 8,
        },
        {
            "code": "contains_name",
            "text": "The password must not be or contain your first or last name.",
        },
    ],
    "last": [
        {
            "id": SUBSCRIPTION_ID,
            "status": "accepted",
            "service": {"title": "Invoice viewing service"},
        }
    ],
    "groups": 0,
    "last_audits": [
        {
            "at": "2025-01-07T08:30:00Z",
            "action": "sign_in",
            "result": "success",
            "ip": "203.0.113.7",
        }
    ],
    "administrators": [
        {
            "id": USER_ID,
            "title": "M",
            "last_name": "Hughes",
            "first_name": "Mark",
            "email": "mark.hughes@example.com",
        }
    ],
}

# Where a field means something else in one schema.
SCHEMAS: dict[str, dict[str, Any]] = {
    "AccountIn": {
        "number": "90293532",
        "name": "Retail IT Shop",
        "parent_number": "90293531",
        "relation": "shop",
    },
    "Service": {"id": SERVICE_ID, "title": "Invoice viewing service"},
    "Subscription": {"id": SUBSCRIPTION_ID, "status": "accepted"},
    "SubscriptionWritten": {
        "id": SUBSCRIPTION_ID,
        "status": "pending",
        "effective": False,
        "decided_at": None,
        "decided_by": None,
    },
    "Subscriber": {"subscription_status": "accepted"},
    "ImportJob": {
        "id": IMPORT_ID,
        "status": "done",
        "reason": None,
        "reason_code": None,
        "reason_params": None,
    },
    "Anomaly": {"code": "import.address_used", "params": {}},
    "Propagation": {"status": "pending"},
    "ContentIn": {"title": "New: download your invoices as PDF"},
    "ContentOut": {"title": "New: download your invoices as PDF"},
    "RefuseIn": {"reason": "This service is not part of your contract; ask your account manager."},
    "AccountCreated": {"id": ACCOUNT_ID},
    "Account": {"id": ACCOUNT_ID},
    "AccountInReach": {"id": ACCOUNT_ID},
    "DocumentsPage": {"service": "Invoice viewing service"},
    "PaginationMetadata": {
        "total": 25,
        "total_pages": 3,
        "first_page": 1,
        "last_page": 3,
        "page": 2,
        "previous_page": 1,
        "next_page": 3,
    },
    "Problem": {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "Some fields are not valid; each is named in `errors`.",
        "errors": {"email": ["Not a valid email address."]},
        "retry_after": 30,
        "service": "Invoice viewing service",
        "code": "too_large",
    },
    **{
        panel: {
            "reason": "The subscriptions service did not answer in time; try again in a moment."
        }
        for panel in ("MyServicesPanel", "CatalogPanel", "UsersPanel")
    },
}

# Whole examples where the fields' own would make an object no answer has (a 422 with a
# Retry-After, a panel both given and unavailable).
OBJECTS: dict[str, dict[str, Any]] = {
    "Problem": {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "code": "validation.phone_invalid",
        "detail": "Some fields are not valid (mobile_phone); see errors for what to change.",
        "errors": {
            "mobile_phone": [
                "This is not a phone number we can read; write it with its country code,"
                " e.g. +33 1 23 45 67 89."
            ]
        },
    },
    "MyServicesPanel": {"accepted": 4, "pending": 1, "refused": 0, "last": FIELDS["last"]},
    "CatalogPanel": {
        "not_subscribed": 20,
        "new_since_last_sign_in": 2,
        "without_subscriber": 5,
        "pending_validation": 1,
    },
    "UsersPanel": {
        "active": 40,
        "pending_activation": 3,
        "without_email": 2,
        "new_since_last_sign_in": 2,
        "groups": 0,
    },
}


def example_of(schema: str, field: str, definition: dict[str, Any]) -> tuple[bool, Any]:
    """(found, value): the schema's own value, else the field's, else the first of an enum."""
    if field in SCHEMAS.get(schema, {}):
        return True, SCHEMAS[schema][field]
    if field in FIELDS:
        return True, FIELDS[field]
    if definition.get("enum"):
        return True, definition["enum"][0]
    return False, None


def refers(definition: dict[str, Any]) -> bool:
    """A field whose value is another schema (which has examples of its own)."""
    inner = definition.get("items", definition)
    return "$ref" in inner or "allOf" in inner


def status_of(response_name: str) -> int | None:
    """The status a shared error response is named after (PROBLEM_409, ERROR_401, CONFLICT)."""
    found = re.search(r"(\d{3})$", response_name)
    if found:
        return int(found.group(1))
    return HTTPStatus[response_name].value if response_name in HTTPStatus.__members__ else None


# The titles the gateway writes, where RFC 9110 renamed a status that Python names otherwise.
TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def problem_example(status: int, description: str) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": TITLES.get(status, HTTPStatus(status).phrase),
        "status": status,
        "detail": description,
    }


class ExampleDocumentation(BasePlugin):
    """Gives every field of every schema an `example` (nested schemas have their own), and each
    shared error response an example of its own status (else every one shows the Problem's 422)."""

    def init_spec(self, spec: APISpec) -> None:
        self.spec = spec

    def operation_helper(self, **_: Any) -> None:
        # Every plugin's init_spec has run before the first path: the shared responses all exist.
        components = self.spec.components
        for name, response in {**components.responses, **components.responses_lazy}.items():
            status = status_of(name)
            for content in (response.get("content") or {}).values():
                if status and "example" not in content and "Problem" in str(content.get("schema")):
                    content["example"] = problem_example(status, response.get("description", ""))

    def schema_helper(self, name: str, definition: dict, **_: Any) -> None:
        if name in OBJECTS:
            definition.setdefault("example", OBJECTS[name])
        for field, prop in (definition.get("properties") or {}).items():
            if "example" in prop or refers(prop):
                continue
            found, value = example_of(name, field, prop)
            if found:
                # `examples` is JSON Schema's word (OpenAPI 3.1): Swagger UI shows it before `default`.
                prop["example"], prop["examples"] = value, [value]

"""The four pages gated by services (manual, appendix 8): a refusal (403) is shown as a page, not an error."""

from __future__ import annotations

from typing import Any

from gateway.web.apicall import ApiError, api
from gateway.web.core import page_number, pagination, render, signed_in, web

# page path -> (API path, columns shown, in order)
CONTENT = {
    "invoices": ("invoices", ("id", "kind", "label", "issued_on", "due_on", "amount")),
    "products-and-contracts": (
        "products-and-contracts",
        ("id", "product", "kind", "on_contract", "licences", "since"),
    ),
    "planning": ("planning", ("date", "start", "kind", "duration_hours", "webex_code", "id")),
    "intervention-reports": (
        "intervention-reports",
        ("id", "date", "summary", "technician", "hours", "attendance_sheet"),
    ),
}


def content_page(name: str) -> Any:
    path, columns = CONTENT[name]
    try:
        data = api().get(f"/api/v1/{path}", {"page": page_number(), "per_page": 20})
    except ApiError as exc:
        if exc.status != 403:
            raise
        return render(
            "content_refused.html",
            status=403,
            name=name,
            detail=exc.detail,
            service=exc.extra.get("service"),
        )
    return render("content.html", name=name, data=data, paging=pagination(data), columns=columns)


def _route(name: str) -> None:
    def view() -> Any:
        return content_page(name)

    view.__name__ = "content_" + name.replace("-", "_")
    web.add_url_rule(f"/{name}", view.__name__, signed_in(view), methods=["GET"])


for _name in CONTENT:
    _route(_name)

"""The OpenAPI document: served as OpenAPI 3.1 JSON, and exactly the endpoints docs/api.md lists."""

from __future__ import annotations

import json
import re
from pathlib import Path

API_DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"
METHODS = ("get", "post", "put", "patch", "delete")
# A row of one of docs/api.md's endpoint tables: | `METHOD /api/v1/path` {body?} | does | answers |
ENDPOINT_ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^\s`?]+)", re.MULTILINE)
ANSWERS_ROW = re.compile(
    r"^\| `(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^\s`?]+)[^|]*\|[^|]*\| (.*) \|$", re.MULTILINE
)


def documented_endpoints(text: str) -> set[tuple[str, str]]:
    return {(method.lower(), path) for method, path in ENDPOINT_ROW.findall(text)}


def served_endpoints(document: dict) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in METHODS
    }


def test_the_document_is_openapi_3_1_json_with_problems_and_security_schemes(gw):
    answer = gw.client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    document = json.loads(answer.get_data())
    assert document["openapi"].startswith("3.1")
    assert {"session", "operator", "cookie"} <= set(document["components"]["securitySchemes"])
    assert "Problem" in document["components"]["schemas"]


def test_every_endpoint_of_docs_api_md_is_served_and_every_served_one_is_documented(gw):
    documented = documented_endpoints(API_DOC.read_text(encoding="utf-8"))
    served = served_endpoints(gw.client.get("/api/v1/openapi.json").get_json())
    assert sorted(documented - served) == [], (
        "docs/api.md lists endpoints the gateway does not serve"
    )
    assert sorted(served - documented) == [], (
        "the gateway serves endpoints docs/api.md does not list"
    )


def documented_statuses(text: str) -> dict[tuple[str, str], set[str]]:
    """Each row's endpoint and the status codes its last column (what it answers) names."""
    return {
        (method.lower(), path): set(re.findall(r"\b([1-5]\d\d)\b", answers))
        for method, path, answers in ANSWERS_ROW.findall(text)
    }


def test_every_status_docs_api_md_gives_an_endpoint_is_in_its_openapi_operation(gw):
    document = gw.client.get("/api/v1/openapi.json").get_json()
    statuses = documented_statuses(API_DOC.read_text(encoding="utf-8"))
    assert len(statuses) == len(served_endpoints(document))
    missing = {
        f"{method.upper()} {path}": sorted(
            codes - set(document["paths"][path][method]["responses"])
        )
        for (method, path), codes in statuses.items()
        if codes - set(document["paths"][path][method]["responses"])
    }
    assert missing == {}


def test_the_endpoint_rows_of_docs_api_md_are_read_as_a_reader_sees_them():
    text = (
        "| `POST /api/v1/session` `{email, password}` | signs in | 201 |\n"
        "| `GET /api/v1/accounts/{account_id}/users?name=&email=` | the list | 200 |\n"
        "Prose naming `GET /api/v1/me` is not a row.\n"
    )
    assert documented_statuses(text) == {
        ("post", "/api/v1/session"): {"201"},
        ("get", "/api/v1/accounts/{account_id}/users"): {"200"},
    }
    assert documented_endpoints(text) == {
        ("post", "/api/v1/session"),
        ("get", "/api/v1/accounts/{account_id}/users"),
    }


def test_request_bodies_and_errors_are_documented(gw):
    document = gw.client.get("/api/v1/openapi.json").get_json()
    sign_in = document["paths"]["/api/v1/session"]["post"]
    assert "requestBody" in sign_in and "201" in sign_in["responses"]
    assert "422" in document["paths"]["/api/v1/accounts/{account_id}/users"]["post"]["responses"]

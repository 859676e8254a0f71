"""The OpenAPI document: served, valid JSON, with every path of API.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

API_MD = Path(__file__).resolve().parents[4] / "shared" / "API.md"

# API.md's paths, written out so that this test runs without shared/ beside the repository too.
PATHS = {
    "/api/v1/operator/accounts": {"post"},
    "/api/v1/operator/accounts/{number}/administrators": {"post"},
    "/api/v1/operator/accounts/{number}/catalog": {"put"},
    "/api/v1/operator/content": {"post"},
    "/api/v1/session": {"post", "delete"},
    "/api/v1/activations/{token}": {"get", "post"},
    "/api/v1/password-resets": {"post"},
    "/api/v1/password-resets/{token}": {"post"},
    "/api/v1/email-changes/{token}": {"post"},
    "/api/v1/me": {"get", "patch"},
    "/api/v1/me/password": {"post"},
    "/api/v1/me/email-change": {"post"},
    "/api/v1/me/dashboard": {"get"},
    "/api/v1/me/audits": {"get"},
    "/api/v1/me/subscriptions": {"get", "post"},
    "/api/v1/me/subscriptions/{id}": {"delete"},
    "/api/v1/catalog": {"get"},
    "/api/v1/administrators": {"get"},
    "/api/v1/accounts": {"get"},
    "/api/v1/accounts/{account_id}/users": {"get", "post"},
    "/api/v1/accounts/{account_id}/users/{user_id}": {"get", "patch", "delete"},
    "/api/v1/accounts/{account_id}/users/{user_id}/unlock": {"post"},
    "/api/v1/accounts/{account_id}/activation-emails": {"post"},
    "/api/v1/accounts/{account_id}/users/{user_id}/subscriptions": {"get", "post"},
    "/api/v1/accounts/{account_id}/users/{user_id}/subscriptions/{id}": {"delete"},
    "/api/v1/accounts/{account_id}/services": {"get", "patch"},
    "/api/v1/accounts/{account_id}/services/{service_id}/subscribers": {"get"},
    "/api/v1/accounts/{account_id}/subscription-requests": {"get"},
    "/api/v1/accounts/{account_id}/subscription-requests/{id}/accept": {"post"},
    "/api/v1/accounts/{account_id}/subscription-requests/{id}/refuse": {"post"},
    "/api/v1/accounts/{account_id}/imports": {"post"},
    "/api/v1/accounts/{account_id}/imports/{id}": {"get"},
    "/api/v1/accounts/{account_id}/imports/{id}/report.csv": {"get"},
    "/api/v1/accounts/{account_id}/audit": {"get"},
    "/api/v1/invoices": {"get"},
    "/api/v1/products-and-contracts": {"get"},
    "/api/v1/planning": {"get"},
    "/api/v1/intervention-reports": {"get"},
}


def shape(path: str) -> str:
    """Compare paths without the parameters' names: /a/{x}/b and /a/{y}/b are the same route."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_openapi_document_is_served_as_json_with_every_api_md_path(gw):
    answer = gw.client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = json.loads(answer.get_data())
    assert document["openapi"].startswith("3.1")
    served = {shape(p): {m for m in ops if m in ("get", "post", "put", "patch", "delete")}
              for p, ops in document["paths"].items()}
    for path, methods in PATHS.items():
        assert shape(path) in served, path
        assert methods <= served[shape(path)], (path, methods, served[shape(path)])
    assert "bearer" in document["components"]["securitySchemes"]
    assert "ProblemSchema" in json.dumps(document["components"]) or "Problem" in document["components"]["schemas"]


def test_api_md_lists_no_path_this_test_forgot():
    if not API_MD.exists():
        return
    written = set(re.findall(r"`(?:GET|POST|PUT|PATCH|DELETE)[^`]*?(/api/v1/[^\s`?]+)", API_MD.read_text()))
    written |= {f"/api/v1/{p.strip('`/')}" for p in re.findall(r"`/api/v1/([a-z-]+)`", API_MD.read_text())}
    written |= set(re.findall(r"`(/api/v1/[a-z-]+)`", API_MD.read_text()))
    known = {shape(p) for p in PATHS}
    assert {shape(p) for p in written if p.startswith("/api/v1/")} - known - {shape("/api/v1/openapi.json")} == set()


def test_request_bodies_and_errors_are_documented(gw):
    document = gw.client.get("/api/v1/openapi.json").get_json()
    sign_in = document["paths"]["/api/v1/session"]["post"]
    assert "requestBody" in sign_in and "201" in sign_in["responses"]
    assert "422" in document["paths"]["/api/v1/accounts/{account_id}/users"]["post"]["responses"]

"""OWASP ASVS 4.0.3 chapter V8 (data protection): rows of docs/security.md that no other test showed.

The gateway in-process in front of fake services: the web pages are not kept by caches either, no
credential is ever asked for in a query string (read from the OpenAPI document the server serves),
and the pages' script keeps nothing in the browser's storage.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.service.gateway import conftest as gateway_kit

make_gateway, gw = gateway_kit.make_gateway, gateway_kit.gw  # the gateway tests' fixtures

STATIC = Path(__file__).resolve().parents[2] / "gateway" / "static"
CREDENTIAL = re.compile(r"pass|token|secret|key|csrf|session|auth|code", re.I)


def test_v8_2_1_pages_are_not_kept_by_browser_or_shared_caches(gw):
    for path in ("/sign-in", "/forgotten-password", "/activate/unknown-token", "/account"):
        page = gw.client.get(path)
        assert page.status_code < 500, path
        assert "no-store" in page.headers.get("Cache-Control", ""), path


def test_v8_3_1_and_v13_1_3_no_operation_takes_a_credential_in_its_query_string(gw):
    document = gw.client.get("/api/v1/openapi.json").get_json()
    in_query = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operations.get("parameters", []) + operation.get("parameters", []):
                if parameter.get("in") == "query":
                    in_query.append((method.upper(), path, parameter["name"]))
    assert len(in_query) > 10  # the list filters are there: the document was read
    assert not [found for found in in_query if CREDENTIAL.search(found[2])], in_query
    sign_in = document["paths"]["/api/v1/session"]["post"]
    assert "requestBody" in sign_in and not sign_in.get("parameters")


def test_v8_2_2_the_pages_script_keeps_nothing_in_browser_storage():
    scripts = list(STATIC.glob("*.js"))
    assert scripts
    for script in scripts:
        source = script.read_text(encoding="utf-8")
        for storage in (
            "localStorage",
            "sessionStorage",
            "indexedDB",
            "document.cookie",
            "caches.open",
        ):
            assert storage not in source, (script.name, storage)

"""The API's documentation page (/api/v1/docs): open without sign-in, served whole by the gateway
(no other host, so a portal without internet still shows it), under a strict CSP; and the
OpenAPI document says how each operation is authorised and which errors its guards answer."""

from __future__ import annotations

import re
from html.parser import HTMLParser

DOCS = "/api/v1/docs"
METHODS = ("get", "post", "put", "patch", "delete")


class References(HTMLParser):
    """Every src and href of a page, and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]
        self._in_inline_script = tag == "script" and not found.get("src")

    def handle_data(self, data: str) -> None:
        if self._in_inline_script and data.strip():
            self.inline_scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_inline_script = False


def read_page(gw) -> tuple[object, References]:
    answer = gw.client.get(DOCS)
    page = References()
    page.feed(answer.get_data(as_text=True))
    return answer, page


def test_the_docs_page_opens_without_sign_in_and_loads_the_openapi_document(gw):
    answer, page = read_page(gw)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/html"
    spec_url = re.search(r'data-spec-url="([^"]+)"', answer.get_data(as_text=True)).group(1)
    assert spec_url == "/api/v1/openapi.json"
    assert gw.client.get(spec_url).status_code == 200


def test_every_asset_of_the_page_is_served_by_the_gateway_without_sign_in(gw):
    _answer, page = read_page(gw)
    assert any(url.endswith(".js") for url in page.urls) and any(
        url.endswith(".css") for url in page.urls
    )
    for url in page.urls:
        assert url.startswith("/") and not url.startswith("//"), (
            f"{url} is not on the gateway itself"
        )
        asset = gw.client.get(url)
        assert asset.status_code == 200, (url, asset.status_code)
        assert asset.mimetype in (
            "text/javascript",
            "application/javascript",
            "text/css",
            "image/png",
        ), url
        assert len(asset.get_data()) > 0, url
    bundle = gw.client.get(next(url for url in page.urls if url.endswith("swagger-ui-bundle.js")))
    assert b"SwaggerUIBundle" in bundle.get_data()


def test_the_page_and_its_starting_script_name_no_other_host(gw):
    answer, page = read_page(gw)
    texts = [answer.get_data(as_text=True)] + [
        gw.client.get(url).get_data(as_text=True) for url in page.urls if url.endswith("start.js")
    ]
    assert len(texts) == 2, page.urls
    for text in texts:
        assert not re.search(r"(https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]", text), text


def test_the_page_runs_under_a_csp_that_allows_this_origin_only(gw):
    answer, page = read_page(gw)
    assert page.inline_scripts == []
    policy = dict(
        (part.strip().split(" ", 1) + [""])[:2]
        for part in answer.headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "http" not in answer.headers["Content-Security-Policy"]
    asset = gw.client.get(page.urls[0])
    assert asset.headers["Content-Security-Policy"] == answer.headers["Content-Security-Policy"]


def test_a_name_that_is_no_asset_of_the_page_is_404(gw):
    # Both are in the package, and not used by the page.
    assert gw.client.get(f"{DOCS}/assets/swagger-ui.js").status_code == 404
    assert gw.client.get(f"{DOCS}/assets/oauth2-redirect.html").status_code == 404


def test_the_rest_of_the_api_still_needs_a_session(gw):
    assert gw.client.get("/api/v1/me").status_code == 401


def test_each_operation_names_how_it_is_authorised(gw):
    document = gw.client.get("/api/v1/openapi.json").get_json()
    assert {"session", "cookie", "operator"} <= set(document["components"]["securitySchemes"])
    assert document["security"] == [{"session": []}, {"cookie": []}]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            security = operation.get("security", document["security"])
            if path.startswith("/api/v1/operator/"):
                assert security == [{"operator": []}], (method, path)
            else:
                assert {"operator": []} not in security, (method, path)
    assert document["paths"]["/api/v1/session"]["post"]["security"] == []
    assert document["paths"]["/api/v1/password-resets"]["post"]["security"] == []


def test_each_operation_has_a_summary_and_the_errors_of_its_guards_with_an_example(gw):
    document = gw.client.get("/api/v1/openapi.json").get_json()
    examples = {
        name: response["content"]["application/problem+json"]["example"]
        for name, response in document["components"]["responses"].items()
        if name.startswith("ERROR_")
    }
    assert {example["status"] for example in examples.values()} == {401, 403, 404, 429}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            where = (method, path)
            assert operation.get("summary"), where
            responses = operation["responses"]
            signs_out = where == ("delete", "/api/v1/session")
            if operation.get("security", document["security"]) and not signs_out:
                assert "401" in responses, where
            if path.startswith("/api/v1/accounts/{account_id}"):
                assert {"403", "404"} <= set(responses), where
            if "{" in path:
                assert "404" in responses, where
    assert "429" in document["paths"]["/api/v1/session"]["post"]["responses"]


JSON_TYPES = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


def schema_named(document: dict, ref: str) -> tuple[str, dict]:
    name = ref.rsplit("/", 1)[1]
    return name, document["components"]["schemas"][name]


def fields_without_a_fitting_example(name: str, schema: dict) -> list[str]:
    """The fields whose example is missing, outside the enum or of another type than declared."""
    wrong = []
    for field, prop in schema.get("properties", {}).items():
        inner = prop.get("items", prop)
        if "$ref" in inner or "allOf" in inner:
            continue  # another schema, checked on its own
        if "example" not in prop:
            wrong.append(f"{name}.{field}: no example")
            continue
        example, declared = prop["example"], prop.get("type")
        types = [declared] if isinstance(declared, str) else declared or []
        if types and not any(
            isinstance(example, JSON_TYPES[t])
            and not (t == "integer" and isinstance(example, bool))
            for t in types
        ):
            wrong.append(f"{name}.{field}: {example!r} is not {types}")
        if "enum" in prop and example not in prop["enum"] and example is not None:
            wrong.append(f"{name}.{field}: {example!r} is not one of {prop['enum']}")
    return wrong


def test_each_operation_has_an_example_of_its_body_and_of_its_answer(gw):
    document = gw.client.get("/api/v1/openapi.json").get_json()
    wrong = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            answers = [r for code, r in operation["responses"].items() if code.startswith("2")]
            bodies = [operation.get("requestBody", {})] + answers
            refs = [
                content["schema"]["$ref"]
                for body in bodies
                for content in body.get("content", {}).values()
                if "$ref" in content.get("schema", {})
            ]
            if not refs:  # no body and nothing to show: a 204, or the anomaly report as CSV
                assert path.endswith(".csv") or {
                    c for c in operation["responses"] if c.startswith("2")
                } == {"204"}
            for ref in refs:
                wrong += fields_without_a_fitting_example(*schema_named(document, ref))
    for name, schema in document["components"]["schemas"].items():
        wrong += fields_without_a_fitting_example(name, schema)
    assert sorted(set(wrong)) == []


def test_an_example_that_does_not_fit_its_field_is_found():
    schema = {
        "properties": {
            "status": {"type": "string", "enum": ["pending", "applied"], "example": "done"},
            "rows": {"type": ["integer", "null"], "example": True},
            "name": {"type": "string"},
            "user": {"$ref": "#/components/schemas/User"},
        }
    }
    assert fields_without_a_fitting_example("X", schema) == [
        "X.status: 'done' is not one of ['pending', 'applied']",
        "X.rows: True is not ['integer', 'null']",
        "X.name: no example",
    ]


def test_each_error_an_operation_answers_has_an_example_of_that_status(gw):
    document = gw.client.get("/api/v1/openapi.json").get_json()
    shared = document["components"]["responses"]
    wrong = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            for code, response in operation["responses"].items():
                if not code.isdigit() or int(code) < 400:
                    continue
                if "$ref" in response:
                    response = shared[response["$ref"].rsplit("/", 1)[1]]
                examples = [
                    content.get("example") for content in response.get("content", {}).values()
                ]
                if not examples or any((e or {}).get("status") != int(code) for e in examples):
                    wrong.append(f"{method.upper()} {path} {code}: {examples}")
    assert wrong == []

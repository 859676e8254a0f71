"""Strict-Transport-Security on every answer of the gateway (API, pages, assets, errors) when the
portal's public address is https; never on a portal served over plain http."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.security.web_pages import start_pages

ONE_YEAR = 365 * 24 * 3600
PATHS = [
    "/sign-in",
    "/forgotten-password",
    "/api/v1/me",
    "/api/v1/openapi.json",
    "/healthz",
    "/assets/portico.css",
    "/no-such-page",
    "/api/v1/no-such-thing",
]


@pytest.fixture(scope="module")
def portals(tmp_path_factory):
    started = {}
    try:
        for scheme in ("https", "http"):
            started[scheme] = start_pages(
                tmp_path_factory.mktemp(scheme),
                f"hsts{uuid.uuid4().hex[:8]}",
                f"{scheme}://portal.example.test",
                with_demo=False,
            )
        yield started
    finally:
        for pages in started.values():
            pages.stop()


@pytest.mark.parametrize("path", PATHS)
def test_an_https_portal_tells_browsers_to_use_https_only(portals, path):
    answer = portals["https"].app.test_client().get(path)
    hsts = answer.headers.get("Strict-Transport-Security")
    assert hsts is not None, (path, answer.status_code, dict(answer.headers))
    max_age = re.fullmatch(r"max-age=(\d+)(;.*)?", hsts)
    assert max_age and int(max_age.group(1)) >= ONE_YEAR, hsts


def test_a_sign_in_answer_of_an_https_portal_has_it_too(portals):
    browser = portals["https"].app.test_client()
    answer = browser.post(
        "/api/v1/session", json={"email": "nobody@example.com", "password": "wrong"}
    )
    assert answer.status_code == 401
    assert "Strict-Transport-Security" in answer.headers


@pytest.mark.parametrize("path", PATHS)
def test_a_portal_on_plain_http_does_not_send_it(portals, path):
    answer = portals["http"].app.test_client().get(path)
    assert "Strict-Transport-Security" not in answer.headers, (path, dict(answer.headers))

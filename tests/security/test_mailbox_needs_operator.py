"""The built-in mailbox is an operator's tool: it needs the operator token.

Without it, anyone who reached an embedded portal could ask a password reset for any address and
read the link in the mailbox. The token is typed once into a small CSRF-protected form; the browser
then holds a cookie (HttpOnly, SameSite=Strict, Secure over https) with a keyed digest of it, never
the token itself. The sign-in page no longer links to the mailbox.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bus.clock import FakeClock
from tests.security.web_pages import ADMIN, form_fields, start_pages

UNLOCK = "/mailbox/unlock"
ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120  # seconds for `portico run` to start every part on a loaded machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    started = start_pages(tmp_path_factory.mktemp("mailbox"), f"mbox{uuid.uuid4().hex[:8]}")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def https_pages(tmp_path_factory):
    started = start_pages(
        tmp_path_factory.mktemp("mailbox-https"),
        f"mboxs{uuid.uuid4().hex[:8]}",
        "https://localhost",
        with_demo=False,
    )
    yield started
    started.stop()


def shows_mail(answer) -> bool:
    """Whether the answer lists e-mails (the demo's activation e-mails are in the mailbox)."""
    text = answer.get_data(as_text=True)
    return answer.status_code == 200 and "retail-it.example" in text


def unlock(browser, token: str, next_path: str = "/mailbox"):
    fields = form_fields(browser.get(next_path).get_data(as_text=True), UNLOCK)
    return browser.post(UNLOCK, {**fields, "operator_token": token})


def mailbox_cookie(answer) -> str:
    found = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith("portico_mailbox=")]
    assert len(found) == 1, answer.headers.getlist("Set-Cookie")
    return found[0]


def test_without_the_token_the_mailbox_shows_a_form_not_the_mail(pages):
    browser = pages.browser()
    for path in ("/mailbox", "/mailbox?to=claire", "/mailbox/1", "/mailbox/1/html"):
        answer = browser.get(path)
        text = answer.get_data(as_text=True)
        assert answer.status_code == 401, (path, answer.status_code)
        assert "retail-it.example" not in text, path
        assert 'name="operator_token"' in text, path


def test_a_signed_in_client_needs_the_token_too(pages):
    browser = pages.browser()
    browser.sign_in(ADMIN)
    answer = browser.get("/mailbox")
    assert answer.status_code == 401 and not shows_mail(answer)


def test_the_operator_token_opens_the_mailbox_and_the_cookie_does_not_hold_it(pages):
    browser = pages.browser()
    answer = unlock(browser, pages.operator_token, "/mailbox?to=claire")
    assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
    assert answer.headers["Location"] == "/mailbox?to=claire"  # back where the operator was going
    cookie = mailbox_cookie(answer)
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes and "samesite=strict" in attributes
    assert "secure" not in attributes  # the public URL is http here
    assert pages.operator_token not in cookie
    assert shows_mail(browser.get("/mailbox"))
    first = re.search(r'href="/mailbox/(\d+)"', browser.get("/mailbox").get_data(as_text=True))
    assert first and browser.get(f"/mailbox/{first.group(1)}").status_code == 200


def test_a_wrong_token_is_told_clearly_and_opens_nothing(pages):
    browser = pages.browser()
    answer = unlock(browser, pages.operator_token[:-1] + "x")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 401
    assert "This is not the operator token" in text
    assert not [c for c in answer.headers.getlist("Set-Cookie") if c.startswith("portico_mailbox=")]
    assert not shows_mail(browser.get("/mailbox"))


def test_an_empty_token_is_asked_for(pages):
    browser = pages.browser()
    answer = unlock(browser, "  ")
    assert answer.status_code == 422
    assert "Enter the operator token" in answer.get_data(as_text=True)


def test_the_form_is_csrf_protected(pages):
    browser = pages.browser()
    fields = form_fields(browser.get("/mailbox").get_data(as_text=True), UNLOCK)
    for forged in (
        {**fields, "csrf_token": "forged"},
        {k: v for k, v in fields.items() if k != "csrf_token"},
    ):
        answer = browser.post(UNLOCK, {**forged, "operator_token": pages.operator_token})
        assert answer.status_code == 403, answer.status_code
        assert "out of date" in answer.get_data(as_text=True)
        assert not shows_mail(browser.get("/mailbox"))
    # a client that never saw the form has no token to send
    stranger = pages.browser()
    answer = stranger.post(UNLOCK, {"operator_token": pages.operator_token})
    assert answer.status_code == 403 and not shows_mail(stranger.get("/mailbox"))


def test_a_forged_or_copied_cookie_opens_nothing(pages):
    browser = pages.browser()
    browser.client.set_cookie("portico_mailbox", pages.operator_token)  # the raw token is no pass
    assert not shows_mail(browser.get("/mailbox"))
    browser.client.set_cookie("portico_mailbox", "eyJmcCI6IngiLCJ1bnRpbCI6OTk5OTk5OTk5OX0.forged")
    assert not shows_mail(browser.get("/mailbox"))


def test_the_pass_ends_after_its_lifetime(pages):
    gateway = pages.embedded.parts["gateway"]
    real = gateway.clock
    clock = FakeClock(real.now())
    gateway.clock = clock
    try:
        browser = pages.browser()
        assert unlock(browser, pages.operator_token).status_code == 303
        assert shows_mail(browser.get("/mailbox"))
        clock.advance(timedelta(hours=12, minutes=1))
        assert not shows_mail(browser.get("/mailbox"))
    finally:
        gateway.clock = real


def test_locking_the_mailbox_forgets_the_pass(pages):
    browser = pages.browser()
    unlock(browser, pages.operator_token)
    fields = form_fields(browser.get("/mailbox").get_data(as_text=True), "/mailbox/lock")
    answer = browser.post("/mailbox/lock", fields)
    assert answer.status_code == 303
    assert not shows_mail(browser.get("/mailbox"))


def test_no_page_links_to_the_mailbox_for_those_without_the_pass(pages):
    anonymous = pages.browser()
    for path in ("/sign-in", "/forgotten-password"):
        assert "/mailbox" not in anonymous.get(path).get_data(as_text=True), path
    signed_in = pages.browser()
    signed_in.sign_in(ADMIN)
    assert 'href="/mailbox"' not in signed_in.get("/account").get_data(as_text=True)
    operator = pages.browser()
    unlock(operator, pages.operator_token)
    assert 'href="/mailbox"' in operator.get("/sign-in").get_data(as_text=True)


def test_over_https_the_cookie_is_secure(https_pages):
    browser = https_pages.browser()
    fields = form_fields(
        browser.get("/mailbox", base_url="https://localhost").get_data(as_text=True), UNLOCK
    )
    answer = browser.client.post(
        UNLOCK,
        data={**fields, "operator_token": https_pages.operator_token},
        headers={"Origin": "https://localhost"},
        base_url="https://localhost",
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
    attributes = [part.strip().lower() for part in mailbox_cookie(answer).split(";")]
    assert "secure" in attributes and "samesite=strict" in attributes and "httponly" in attributes


def test_portico_run_prints_how_to_open_the_mailbox(tmp_path):
    """The line `portico run` prints leads to the mailbox, and the token it points at opens it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    env["PORTICO_BUS_PREFIX"] = f"mboxrun{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "portico.cli",
            "run",
            "--port",
            str(port),
            "--no-demo",
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    try:
        said = printed(lines, process, "/mailbox")
        address = re.search(r"http://\S+/mailbox", said).group()
        assert address == f"http://127.0.0.1:{port}/mailbox", said
        secrets_file = data_dir / "secrets.env"
        assert str(secrets_file) in said and "PORTICO_OPERATOR_TOKEN" in said, said
        token = re.search(r"^PORTICO_OPERATOR_TOKEN=(\S+)$", secrets_file.read_text(), re.M).group(
            1
        )

        origin = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=origin, timeout=10) as client:
            form = client.get("/mailbox")
            assert form.status_code == 401, form.text[:500]
            fields = form_fields(form.text, UNLOCK)
            opened = client.post(
                UNLOCK, data={**fields, "operator_token": token}, headers={"Origin": origin}
            )
            assert opened.status_code == 303, opened.text[:2000]
            assert client.get("/mailbox").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def printed(lines: list[str], process: subprocess.Popen, wanted: str) -> str:
    """The first line of the process's output that holds `wanted`, waiting for it within a deadline."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = next((line for line in list(lines) if wanted in line), None)
        if found:
            return found
        assert process.poll() is None, (
            f"`portico run` exited with {process.returncode}:\n{''.join(lines)}"
        )
        time.sleep(0.2)
    raise AssertionError(
        f"`portico run` printed no line with {wanted} in {START_TIMEOUT} s:\n{''.join(lines)}"
    )


def test_portico_run_with_an_smtp_server_has_no_mailbox_to_print():
    from portico.cli import mailbox_hint

    assert (
        mailbox_hint("http://127.0.0.1:8000", {"PORTICO_SMTP_URL": "smtp://mail:25"}, {}, Path("s"))
        is None
    )
    given = mailbox_hint(
        "http://127.0.0.1:8000", {"PORTICO_OPERATOR_TOKEN": "x" * 40}, {}, Path("s.env")
    )
    assert given and "http://127.0.0.1:8000/mailbox" in given and "s.env" not in given
    assert "your PORTICO_OPERATOR_TOKEN" in given

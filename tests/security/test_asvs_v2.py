"""OWASP ASVS 4.0.3 chapter V2 (authentication): the rows of docs/security.md that no other test showed.

Through the real portal in one process (every service, SQLite, memory bus): passwords of 128
characters of any Unicode are kept whole, 129 are refused, a breached password is refused wherever
one is chosen, and changing a password needs the current one and is confirmed by e-mail.
"""

from __future__ import annotations

import re
import time
import unicodedata
from pathlib import Path

import pytest

from tests.security.asvs_kit import (
    activate,
    active_user,
    invite,
    link_token,
    mails_to,
    sign_in,
    wait_for,
)
from tests.security.real_portal import start_portal

# Upper, lower and digit (the weak level's three kinds), spaces, accents, Cyrillic, CJK and emoji.
CHUNK = "Zebra 7  ночь 🦓 猫 éclair — "
LONG = unicodedata.normalize("NFC", (CHUNK * 10))[:128]
BREACHED = (
    "Password1"  # in the shipped list of common passwords, and of the weak level's three kinds
)
TEMPLATES = Path(__file__).resolve().parents[2] / "gateway" / "templates" / "web"


@pytest.fixture
def portal(tmp_path):  # one per test: the sign-in rate limits count per address and per IP
    instance = start_portal(tmp_path, f"asvs-v2-{time.monotonic_ns()}")
    yield instance
    instance.stop()


def bearer(answer) -> dict[str, str]:
    assert answer.status_code == 201, answer.get_json()
    return {"Authorization": f"Bearer {answer.get_json()['token']}"}


def test_v2_1_2_to_4_a_password_of_128_unicode_characters_is_accepted_and_kept_whole(portal):
    assert len(LONG) == 128 and "  " in LONG and "🦓" in LONG
    user = active_user(portal, LONG)

    assert sign_in(portal, user["email"], LONG).status_code == 201
    altered = LONG[:100] + ("x" if LONG[100] != "x" else "y") + LONG[101:]
    for wrong in (LONG[:-1], LONG[:72], LONG[:64], altered):  # bcrypt would stop at 72 bytes
        assert sign_in(portal, user["email"], wrong).status_code == 401


def test_v2_1_2_a_password_of_129_characters_is_refused_naming_the_field_and_the_link_still_works(
    portal,
):
    user = invite(portal)
    refused = activate(portal, user, LONG + "Z")

    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert "password" in refused.get_json()["errors"]
    assert "128" in " ".join(refused.get_json()["errors"]["password"])
    token = link_token(portal, user["email"], "activate")
    assert portal.client.get(f"/api/v1/activations/{token}").status_code == 200  # not used up
    assert activate(portal, user, LONG).status_code == 201


def test_v2_1_7_a_breached_password_is_refused_at_activation_change_and_reset(portal):
    user = invite(portal)
    refused = activate(portal, user, BREACHED)
    assert refused.status_code == 422 and "password" in refused.get_json()["errors"]
    assert activate(portal, user, LONG).status_code == 201

    me = bearer(sign_in(portal, user["email"], LONG))
    changed = portal.client.post(
        "/api/v1/me/password", headers=me, json={"current_password": LONG, "new_password": BREACHED}
    )
    assert changed.status_code == 422 and "new_password" in changed.get_json()["errors"]

    assert (
        portal.client.post("/api/v1/password-resets", json={"email": user["email"]}).status_code
        == 202
    )
    token = link_token(portal, user["email"], "reset-password")
    reset = portal.client.post(f"/api/v1/password-resets/{token}", json={"password": BREACHED})
    assert reset.status_code == 422 and "password" in reset.get_json()["errors"]

    assert sign_in(portal, user["email"], BREACHED).status_code == 401
    assert sign_in(portal, user["email"], LONG).status_code == 201


def test_v2_1_5_and_6_a_change_needs_the_current_password_and_v2_5_5_the_user_is_told(portal):
    user = active_user(portal, LONG)
    me = bearer(sign_in(portal, user["email"], LONG))
    new = "Quiet harbour 88 at dawn"

    wrong = portal.client.post(
        "/api/v1/me/password", headers=me, json={"current_password": LONG[:-1], "new_password": new}
    )
    assert wrong.status_code == 422 and list(wrong.get_json()["errors"]) == ["current_password"]
    assert sign_in(portal, user["email"], new).status_code == 401
    assert (
        portal.client.post(
            "/api/v1/me/password", headers=me, json={"new_password": new}
        ).status_code
        == 422
    )

    done = portal.client.post(
        "/api/v1/me/password", headers=me, json={"current_password": LONG, "new_password": new}
    )
    assert done.status_code == 204
    assert sign_in(portal, user["email"], new).status_code == 201
    assert sign_in(portal, user["email"], LONG).status_code == 401
    told = wait_for(
        "the e-mail saying the password changed",
        lambda: [
            mail
            for mail in mails_to(portal, user["email"])
            if mail["subject"] == "Your password has been changed"
        ],
    )
    assert LONG not in told[0]["text"] and new not in told[0]["text"]


def test_v2_1_11_password_fields_leave_paste_and_password_managers_alone():
    fields = []
    for template in TEMPLATES.glob("*.html"):
        source = template.read_text(encoding="utf-8")
        assert not re.search(r"on(paste|copy|cut|drop)\s*=", source, re.I), template.name
        fields += [  # the people's passwords (the mailbox's operator token is no password of theirs)
            (template.name, line)
            for line in source.splitlines()
            if 'type="password"' in line and re.search(r'(name="|input\(")\w*password', line)
        ]
    assert len(fields) >= 6  # sign-in, activation (2), change (3), reset (2)
    for name, line in fields:
        assert re.search(r'autocomplete="?(current-password|new-password)', line), (name, line)
    script = (TEMPLATES.parents[1] / "static" / "portico.js").read_text(encoding="utf-8")
    assert not re.search(r"""["'](paste|copy|cut)["']""", script)

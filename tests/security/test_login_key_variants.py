"""Every spelling of an address is one login, through the real gateway and identity in one process.

Hypothesis writes an address many ways (letters in another case, full-width and other
compatibility forms, the domain in Unicode or in its IDNA form, spaces around) and signs in, and
asks for password resets, with those spellings, for an address a user has and for one nobody has.
All spellings share one lock (identity's throttle), one set of limits (the gateway's per-address
rate limits, one reset e-mail per interval), and known and unknown addresses get the same answers
in the same order: nothing tells an attacker which addresses have an account.
"""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

import idna
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from bus.clock import FakeClock
from bus.login import login_key
from portico.runtime import Embedded
from services.identity.adapters.orm import users
from services.identity.domain.hashing import Argon2Hasher
from services.identity.service_layer.accounts import create_account
from services.identity.service_layer.common import OPERATOR
from services.identity.service_layer.passwords import store_password
from services.identity.service_layer.users import create_user

PASSWORD = "Blue-Kettle-Sings-7"
WRONG = "Wrong-Kettle-Sings-8"
# The defaults, set explicitly: failures before the lock (identity), sign-ins and reset requests
# per address and window (the gateway's rate limits).
LOCK_THRESHOLD = 5
SIGN_INS_PER_ADDRESS = 10
RESETS_PER_ADDRESS = 5
DOMAINS = ["retail-it.example", "bücher.example", "société.example", "ελληνικά.example"]
COMPATIBLE = {
    "a": ["ａ", "Ａ", "ⓐ", "ª", "𝐚"],
    "e": ["ｅ", "ℯ", "ⓔ"],
    "i": ["ｉ", "ⅰ", "𝑖"],
    "l": ["ｌ", "ℓ"],
    "o": ["ｏ", "º", "ⓞ"],
    "1": ["１", "¹", "①"],
    "@": ["＠", "﹫"],
    ".": ["．"],
}
_serial = itertools.count(1)


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The embedded portal (every part, SQLite, memory://) with one fake clock and a cheap hasher."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = {
        "PORTICO_BUS_PREFIX": prefix,
        "PORTICO_LOCK_THRESHOLD": str(LOCK_THRESHOLD),
        "PORTICO_RATE_SIGN_IN_PER_EMAIL": f"{SIGN_INS_PER_ADDRESS}/60",
        "PORTICO_RATE_RESET_PER_EMAIL": f"{RESETS_PER_ADDRESS}/900",
    }
    embedded = Embedded(tmp_path_factory.mktemp("portal"), env).build()
    clock = FakeClock()
    for part in embedded.parts.values():
        part.clock = clock
    embedded.parts["identity"].hasher = Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1)
    yield embedded
    for part in embedded.parts.values():
        part.engine.dispose()


def full_width(char: str) -> str:
    return chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char


# How one character is typed: as is, upper-cased, full-width, or in a compatibility form.
HOW = st.tuples(st.sampled_from(["same", "upper", "full", "compat"]), st.integers(0, 4))
AROUND = st.sampled_from(["", " ", "  ", "\t", "\u3000", "\u00a0", "\u2003"])
# A way of typing an address: domain in IDNA form or not, each character's form, spaces around.
PLAN = st.tuples(st.booleans(), st.lists(HOW, min_size=48, max_size=48), AROUND, AROUND)


def spell(address: str, plan: Any) -> str:
    """`address` typed following `plan` (the same plan gives the known and the unknown address
    the same shape)."""
    ascii_domain, hows, before, after = plan
    local, domain = address.rsplit("@", 1)
    if ascii_domain:
        domain = idna.encode(domain, uts46=True).decode()
    chars = []
    for index, char in enumerate(f"{local}@{domain}"):
        how, pick = hows[index] if index < len(hows) else ("same", 0)
        if how == "upper":
            char = char.upper()
        elif how == "full":
            char = full_width(char)
        elif how == "compat" and char in COMPATIBLE:
            char = COMPATIBLE[char][pick % len(COMPATIBLE[char])]
        chars.append(char)
    return before + "".join(chars) + after


ATTEMPTS = SIGN_INS_PER_ADDRESS + 1 + RESETS_PER_ADDRESS + 1


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, str, int, list[Any]]:
    """A known and an unknown address of the same shape, the known user's password level (weak
    users are never locked themselves: the throttle alone refuses them), and how each attempt
    types the addresses."""
    serial = next(_serial)
    stem = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8))
    separator = draw(st.sampled_from([".", "-", "_", ""]))
    domain = draw(st.sampled_from(DOMAINS))
    known = f"{stem}{separator}k{serial}@{domain}"
    unknown = f"{stem}{separator}u{serial}@{domain}"
    level = draw(st.sampled_from([1, 2, 3]))
    return known, unknown, level, draw(st.lists(PLAN, min_size=ATTEMPTS, max_size=ATTEMPTS))


def make_user(portal: Any, address: str, level: int = 2) -> str:
    """An active user with PASSWORD (moderate level: their account locks); their id."""
    identity = portal.parts["identity"]
    with identity.uow() as uow:
        account = create_account(uow, str(10_000_000 + next(_serial)), "Retail IT Limited")
        user, _ = create_user(
            uow,
            account["id"],
            {
                "email": address,
                "title": "M",
                "last_name": "Laurent",
                "first_name": "Olivier",
                "language": "fr-FR",
                "password_level": level,
            },
            actor=OPERATOR,
            source="operator",
        )
        store_password(uow, user["id"], PASSWORD)
        uow.session.execute(
            users.update()
            .where(users.c.id == user["id"])
            .values(status="active", activated_at=uow.now())
        )
        uow.commit()
    return user["id"]


def answers(portal: Any, spelt: list[str], *, right_at: int) -> list[tuple[int, Any, str | None]]:
    """Sign in with each spelling but the last RESETS_PER_ADDRESS + 1 (the right password at
    `right_at`, a wrong one otherwise), then ask a password reset with those: every answer."""
    client = portal.gateway.test_client()
    ip = {
        "REMOTE_ADDR": f"2001:db8::{next(_serial):x}"
    }  # a client of its own: the per-IP limits stay out
    seen = []
    for index, email in enumerate(spelt[: SIGN_INS_PER_ADDRESS + 1]):
        password = PASSWORD if index == right_at else WRONG
        answer = client.post(
            "/api/v1/session", json={"email": email, "password": password}, environ_base=ip
        )
        seen.append((answer.status_code, answer.get_json(), answer.headers.get("Retry-After")))
    for email in spelt[SIGN_INS_PER_ADDRESS + 1 :]:
        answer = client.post("/api/v1/password-resets", json={"email": email}, environ_base=ip)
        seen.append((answer.status_code, answer.get_json(), answer.headers.get("Retry-After")))
    return seen


def links_to(
    portal: Any, user_id: str | None = None, recipient: str | None = None
) -> list[dict[str, Any]]:
    """The links identity sent (its outbox's identity.link.issued), to a user or an address."""
    identity = portal.parts["identity"]
    table = identity.outbox_table
    with identity.engine.connect() as conn:
        bodies = conn.execute(
            sa.select(table.c.body).where(table.c.type == "identity.link.issued")
        ).scalars()
        found = [json.loads(body)["data"] for body in bodies]
    return [
        link
        for link in found
        if (user_id is not None and link.get("user_id") == user_id)
        or (recipient is not None and login_key(link["recipient"]) == login_key(recipient))
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_every_spelling_shares_one_lock_one_set_of_limits_and_one_answer(portal, case) -> None:
    known, unknown, level, plans = case
    user_id = make_user(portal, known, level)
    note(f"the known address typed: {[spell(known, plan) for plan in plans]!r}")
    right_at = LOCK_THRESHOLD  # the right password, once the lock has started
    for_known = answers(portal, [spell(known, plan) for plan in plans], right_at=right_at)
    for_unknown = answers(portal, [spell(unknown, plan) for plan in plans], right_at=right_at)

    statuses = [status for status, _, _ in for_known]
    assert statuses == (
        [401] * (LOCK_THRESHOLD - 1)
        + [423] * (SIGN_INS_PER_ADDRESS - LOCK_THRESHOLD + 1)
        + [429]
        + [202] * RESETS_PER_ADDRESS
        + [429]
    )
    assert for_known == for_unknown  # status, body and Retry-After: nothing tells them apart
    resets = [link for link in links_to(portal, user_id=user_id) if link["purpose"] == "reset"]
    assert len(resets) == 1  # one reset e-mail, whatever the spellings
    assert links_to(portal, recipient=unknown) == []


def test_the_issues_attack_does_not_sign_in(portal) -> None:
    """4 wrong passwords on each of 3 spellings, then the right one on a fourth: refused."""
    address = f"olivier.laurent{next(_serial)}@retail-it.example"
    make_user(portal, address)
    local = address.split("@")[0]
    spelt = [
        f"{local}@ｒetail-it.example",
        f"{local.upper()}@retail-it.example",
        f" {local}@RETAIL-IT.ＥＸＡＭＰＬＥ ",
    ]
    client = portal.gateway.test_client()
    ip = {"REMOTE_ADDR": "203.0.113.9"}
    statuses = [
        client.post(
            "/api/v1/session", json={"email": email, "password": WRONG}, environ_base=ip
        ).status_code
        for email in spelt
        for _ in range(4)
    ]
    assert statuses == [401] * 4 + [423] * 6 + [429] * 2
    last = client.post(
        "/api/v1/session", json={"email": address.upper(), "password": PASSWORD}, environ_base=ip
    )
    assert last.status_code == 429
    assert "token" not in (last.get_json() or {})

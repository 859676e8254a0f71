"""One login per address in identity: its spellings share the user, the lock, the reset interval,
uniqueness in creations, e-mail changes and imports; the migration fills the key of every user."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bus.db import migrate
from tests.service.identity.conftest import Driver

ADDRESS = "olivier.laurent@retail-it.example"
# What email-validator alone does not make one address: a full-width letter in the local part,
# an upper-case one written full-width, the domain in its IDNA form.
SPELLINGS = [
    "ｏlivier.laurent@retail-it.example",
    "OLIVIER.ＬAURENT@RETAIL-IT.example",
    " olivier.laurent@ｒｅｔａｉｌ-it.example\u3000",
]


@pytest.fixture
def account(svc):
    return svc.account()


def test_four_failures_on_each_of_three_spellings_lock_the_one_login(svc, account):
    svc.active_user(account["id"], email=ADDRESS)
    answers = [
        svc.sign_in(spelling, "Wrong-Password-1").status_code
        for spelling in SPELLINGS
        for _ in range(4)
    ]
    assert answers[:4] == [401] * 4 and set(answers[4:]) == {423}
    assert svc.sign_in(SPELLINGS[0]).status_code == 423  # the right password, another spelling
    assert svc.sign_in(ADDRESS).status_code == 423


def test_every_spelling_signs_in_as_the_one_user(svc, account):
    user = svc.active_user(account["id"], email=ADDRESS)
    for spelling in SPELLINGS:
        answer = svc.sign_in(spelling)
        assert answer.status_code == 200, answer.json
        assert answer.json["user"]["id"] == user["id"]


def test_a_spelling_of_a_taken_address_is_taken(svc, account):
    svc.active_user(account["id"], email=ADDRESS)
    other = svc.account()
    for spelling in SPELLINGS:
        body = {
            "email": spelling,
            "title": "M",
            "last_name": "Laurent",
            "first_name": "Olivier",
            "language": "fr-FR",
            "password_level": 2,
        }
        answer = svc.post(f"/internal/accounts/{other['id']}/users", body, actor="admin-1")
        assert answer.status_code == 409, (spelling, answer.json)
    assert len(svc.rows("users")) == 1


def test_an_e_mail_change_to_a_spelling_of_a_taken_address_is_refused(svc, account):
    svc.active_user(account["id"], email=ADDRESS)
    mover = svc.active_user(account["id"], email="marc@retail-it.example")
    answer = svc.post(f"/internal/users/{mover['id']}/email-change", {"new_email": SPELLINGS[1]})
    assert answer.status_code == 409
    again = svc.post(
        f"/internal/users/{mover['id']}/email-change", {"new_email": "ＭＡＲＣ@retail-it.example"}
    )
    assert again.status_code == 422
    assert again.json["errors"]["new_email"] == ["This is already your e-mail address."]


def test_one_reset_e_mail_per_interval_whatever_the_spelling(svc, account):
    user = svc.active_user(account["id"], email=ADDRESS)

    def reset_links() -> list[str]:
        return [
            e["recipient"]
            for e in svc.events("identity.link.issued")
            if e["user_id"] == user["id"] and e["purpose"] == "reset"
        ]

    for spelling in [*SPELLINGS, ADDRESS]:
        assert svc.post("/internal/password-resets", {"email": spelling}).status_code == 202
    assert reset_links() == [ADDRESS]  # the first spelling found the user; the others were too soon
    svc.clock.advance(timedelta(minutes=6))
    svc.post("/internal/password-resets", {"email": SPELLINGS[1]})
    assert reset_links() == [ADDRESS, ADDRESS]


def test_an_import_refuses_spellings_of_a_taken_address_and_of_an_earlier_row(svc, account):
    svc.user(account["id"], email=ADDRESS)
    rows = [
        {
            "line": line,
            "title": "M",
            "last_name": "Laurent",
            "first_name": "Olivier",
            "email": email,
            "office_phone": None,
            "mobile_phone": None,
            "language": "fr-FR",
            "password_level": 2,
        }
        for line, email in [
            (2, SPELLINGS[0]),
            (3, "anna@bücher.example"),
            (4, "ANNA@xn--bcher-kva.example"),
        ]
    ]
    svc.process(
        "identity.create_users",
        {
            "account_id": account["id"],
            "import_job_id": "job-1",
            "batch": 1,
            "requested_by": "admin-5",
            "rows": rows,
        },
    )
    answer = svc.last("identity.users.created")
    assert [user["import_line"] for user in answer["users"]] == [3]
    assert [(r["line"], r["field"]) for r in answer["rejected"]] == [(2, "email"), (4, "email")]


def test_the_importers_dry_run_finds_a_spelling_taken(svc, account):
    svc.user(account["id"], email=ADDRESS)
    answer = svc.post(
        "/internal/emails/taken", {"emails": [SPELLINGS[1], "free@retail-it.example"]}
    )
    assert answer.json == {"taken": [SPELLINGS[1]]}


def test_the_migration_fills_every_users_login_key(make_part):
    fresh = _part_at_0002(make_part)
    _insert_users(fresh, ["ｏlivier.laurent@retail-it.example", "anna@bücher.example", None])
    migrate(fresh.engine, fresh.migrations)
    with fresh.engine.connect() as conn:
        keys = dict(conn.execute(sa.text("SELECT id, login_key FROM users")).all())
    assert keys == {
        "u0": "olivier.laurent@retail-it.example",
        "u1": "anna@xn--bcher-kva.example",
        "u2": None,
    }
    driver = Driver(fresh)  # once migrated, any spelling finds the user
    assert (
        driver.post(
            "/internal/password-resets", {"email": "OLIVIER.LAURENT@retail-it.example"}
        ).status_code
        == 202
    )
    assert [e["recipient"] for e in driver.events("identity.link.issued")] == [
        "ｏlivier.laurent@retail-it.example"
    ]


def test_the_migration_stops_and_names_users_whose_addresses_are_one_login(make_part):
    fresh = _part_at_0002(make_part)
    _insert_users(
        fresh, ["ｏlivier.laurent@retail-it.example", "olivier.laurent@retail-it.example"]
    )
    with pytest.raises(RuntimeError) as stopped:
        migrate(fresh.engine, fresh.migrations)
    message = str(stopped.value)
    assert (
        "olivier.laurent@retail-it.example: " in message
        and "(user u0)" in message
        and "(user u1)" in message
    )
    assert "Change or delete all but one address" in message


def _part_at_0002(make_part):
    """An identity part whose database stops at revision 0002 (before the login key)."""
    from bus.config import Settings
    from services.identity.bootstrap import build

    part = make_part()
    url = str(part.engine.url).replace(".db", "-0002.db")
    fresh = build(
        Settings(
            part="identity",
            database_url=url,
            broker_url="memory://",
            bus_prefix=part.settings.bus_prefix,
            public_url="https://portal.example",
        )
    )
    fresh.clock, fresh.hasher = part.clock, part.hasher
    migrate(fresh.engine, fresh.migrations, "0002")
    return fresh


def _insert_users(part, emails):
    now = part.clock.now()
    with part.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO accounts (id, number, name, created_at) VALUES ('a', '1', 'A', :now)"
            ),
            {"now": now},
        )
        for index, email in enumerate(emails):
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, account_id, email, last_name, first_name, language, password_level,"
                    " status, name_key, source, created_at, updated_at) VALUES (:id, 'a', :email, 'L', 'F',"
                    " 'en-US', 2, :status, 'l f', 'admin', :now, :now)"
                ),
                {
                    "id": f"u{index}",
                    "email": email,
                    "status": "active" if email else "no_email",
                    "now": now,
                },
            )

"""Administration of an account's users: create, read, modify, delete, lists, audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest


@pytest.fixture
def account(svc):
    return svc.account()


def user_body(**fields):
    return {
        "email": "ldupont@company.ws",
        "title": "MME",
        "last_name": "Dupont",
        "first_name": "Lovana",
        "language": "fr-FR",
        "function": "Buyer",
        "office_phone": "+33 1 23 45 67 89",
        "mobile_phone": "+33 6 12 34 56 78",
        "password_level": 3,
        **fields,
    }


def test_an_administrator_creates_a_user_who_gets_an_activation_link(svc, account):
    body = user_body(office_phone="01 23 45 67 89")  # national: read in the language's country
    response = svc.post(f"/internal/accounts/{account['id']}/users", body, actor="admin-42")
    assert response.status_code == 201, response.json
    user = response.json
    assert {
        k: user[k]
        for k in (
            "email",
            "title",
            "last_name",
            "first_name",
            "language",
            "function",
            "office_phone",
            "mobile_phone",
            "password_level",
            "status",
            "is_administrator",
            "account_id",
        )
    } == {
        "email": "ldupont@company.ws",
        "title": "MME",
        "last_name": "Dupont",
        "first_name": "Lovana",
        "language": "fr-FR",
        "function": "Buyer",
        "office_phone": "+33123456789",
        "mobile_phone": "+33612345678",
        "password_level": 3,
        "status": "pending_activation",
        "is_administrator": False,
        "account_id": account["id"],
    }
    assert user["created_at"] == "2025-01-01T09:00:00Z" and user["activated_at"] is None
    created = svc.envelopes("identity.user.created")[-1]
    assert user["event_id"] == created["id"]
    assert created["data"] == {
        "user_id": user["id"],
        "account_id": account["id"],
        "email": "ldupont@company.ws",
        "title": "MME",
        "last_name": "Dupont",
        "first_name": "Lovana",
        "language": "fr-FR",
        "function": "Buyer",
        "password_level": 3,
        "status": "pending_activation",
        "source": "admin",
        "created_by": "admin-42",
        "grant_administration": False,
        "import_job_id": None,
        "import_line": None,
        "created_at": "2025-01-01T09:00:00Z",
    }
    link = svc.last("identity.link.issued")
    assert link["purpose"] == "activation" and link["resent"] is False
    assert link["recipient"] == "ldupont@company.ws" and link["recipient_name"] == "Lovana Dupont"
    assert link["language"] == "fr-FR" and link["expires_at"] == "2025-01-08T09:00:00Z"
    assert link["link_url"].startswith("https://portal.example/activate/")
    # only the token's hash is stored
    token = link["link_url"].rsplit("/", 1)[1]
    assert all(row.token_hash != token for row in svc.rows("tokens"))


def test_an_e_mail_is_unique_across_the_portal_whatever_its_case(svc, account):
    other = svc.account()
    svc.post(f"/internal/accounts/{account['id']}/users", user_body())
    for target in (account, other):
        response = svc.post(
            f"/internal/accounts/{target['id']}/users", user_body(email="LDupont@Company.WS")
        )
        assert response.status_code == 409
        assert response.json["detail"] == "The user already exists"
    assert svc.count("identity.user.created") == 1


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"last_name": "x" * 101}, "last_name"),
        ({"first_name": ""}, "first_name"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"email": "not an address"}, "email"),
        ({"title": "DR"}, "title"),
        ({"language": "xx-XX"}, "language"),
        ({"office_phone": "12"}, "office_phone"),
        ({"mobile_phone": "call me"}, "mobile_phone"),
        ({"password_level": 4}, "password_level"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_fields_are_refused_with_a_message_each_and_nothing_is_written(
    svc, account, fields, bad
):
    response = svc.post(f"/internal/accounts/{account['id']}/users", user_body(**fields))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert list(response.json["errors"]) == [bad]
    assert all(isinstance(message, str) and message for message in response.json["errors"][bad])
    assert svc.count("identity.user.created") == 0 and svc.rows("users") == []


def test_several_bad_fields_are_all_named(svc, account):
    response = svc.post(
        f"/internal/accounts/{account['id']}/users",
        user_body(title="X", language="klingon", last_name="y" * 300),
    )
    assert set(response.json["errors"]) == {"title", "language", "last_name"}


def test_a_contact_without_e_mail_gets_one_later_and_then_an_activation_link(svc, account):
    body = user_body()
    del body["email"]
    contact = svc.post(f"/internal/accounts/{account['id']}/users", body).json
    assert contact["status"] == "no_email" and svc.count("identity.link.issued") == 0
    path = f"/internal/accounts/{account['id']}/users/{contact['id']}"
    response = svc.patch(path, {"email": "contact@example.com"}, actor="admin-1")
    assert response.status_code == 200
    assert response.json["status"] == "pending_activation"
    assert svc.last("identity.user.updated")["changed"] == ["email", "status"]
    assert svc.last("identity.link.issued")["recipient"] == "contact@example.com"
    again = svc.patch(path, {"email": "other@example.com"})
    assert again.status_code == 422 and "email" in again.json["errors"]


def test_read_modify_and_the_update_event(svc, account):
    user, _ = svc.user(account["id"])
    path = f"/internal/accounts/{account['id']}/users/{user['id']}"
    assert svc.get(path).json["email"] == user["email"]
    response = svc.patch(
        path, {"function": "CFO", "password_level": 3, "last_name": "Durand"}, actor="a-1"
    )
    assert response.status_code == 200
    assert response.json["function"] == "CFO" and response.json["password_level"] == 3
    updated = svc.envelopes("identity.user.updated")[-1]
    assert response.json["event_id"] == updated["id"]
    assert updated["data"]["changed"] == ["function", "last_name", "password_level"]
    assert updated["data"]["password_level"] == 3 and updated["data"]["last_name"] == "Durand"
    same = svc.patch(path, {"function": "CFO"})
    assert same.status_code == 200 and same.json["event_id"] is None
    assert svc.count("identity.user.updated") == 1
    bad = svc.patch(path, {"title": "Sir", "status": "active"})
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"title", "status"}


def test_a_user_of_another_account_is_not_found(svc, account):
    other = svc.account()
    stranger, _ = svc.user(other["id"])
    base = f"/internal/accounts/{account['id']}/users/{stranger['id']}"
    assert svc.get(base).status_code == 404
    assert svc.patch(base, {"function": "Spy"}).status_code == 404
    assert svc.delete(base).status_code == 404
    assert svc.post(f"{base}/unlock").status_code == 404
    answer = svc.post(
        f"/internal/accounts/{account['id']}/activation-emails", {"user_ids": [stranger["id"]]}
    ).json
    assert answer["sent"] == 0 and answer["results"][0]["reason"] == "not_found"
    assert svc.get(f"/internal/accounts/{other['id']}/users/{stranger['id']}").status_code == 200


def test_delete_publishes_and_frees_the_address(svc, account):
    user, _ = svc.user(account["id"])
    response = svc.delete(f"/internal/accounts/{account['id']}/users/{user['id']}", actor="admin-9")
    assert response.status_code == 204
    deleted = svc.last("identity.user.deleted")
    assert deleted == {
        "user_id": user["id"],
        "account_id": account["id"],
        "email": user["email"],
        "last_name": "Dupont",
        "first_name": "Lovana",
        "deleted_by": "admin-9",
    }
    assert svc.get(f"/internal/accounts/{account['id']}/users/{user['id']}").status_code == 404
    assert svc.rows("tokens", user_id=user["id"]) == []
    again, _ = svc.user(account["id"], email=user["email"])
    assert again["id"] != user["id"]


def test_the_last_administrator_cannot_be_deleted(svc, account):
    first = svc.active_user(account["id"])
    second = svc.active_user(account["id"])
    svc.grant_admin(account["id"], first["id"])
    path = f"/internal/accounts/{account['id']}/users/{first['id']}"
    response = svc.delete(path)
    assert response.status_code == 409
    assert "at least one administrator" in response.json["detail"]
    svc.grant_admin(account["id"], second["id"])
    assert svc.delete(path).status_code == 204
    last = svc.delete(f"/internal/accounts/{account['id']}/users/{second['id']}")
    assert last.status_code == 409
    assert svc.get(f"/internal/accounts/{account['id']}/administrators").json["total"] == 1


def test_list_filters_and_pages(svc, account):
    svc.user(account["id"], last_name="Élodie", first_name="Martin", function="Chef de projet")
    svc.user(
        account["id"], last_name="Smith", first_name="John", function="Buyer", email="john@smith.io"
    )
    admin = svc.active_user(account["id"], last_name="Zorro", first_name="Diego")
    svc.grant_admin(account["id"], admin["id"])
    svc.user(svc.account()["id"], last_name="Elsewhere")
    path = f"/internal/accounts/{account['id']}/users"

    def names(**query):
        response = svc.get(path, query_string=query)
        assert response.status_code == 200, response.json
        return [item["last_name"] for item in response.json["items"]]

    assert names() == ["Élodie", "Smith", "Zorro"]
    assert names(name="elodie") == ["Élodie"]
    assert names(name="martin elo") == ["Élodie"]
    assert names(email="SMITH.io") == ["Smith"]
    assert names(function="chef") == ["Élodie"]
    assert names(status="active") == ["Zorro"]
    assert names(status="pending_activation") == ["Élodie", "Smith"]
    assert names(administrators_only="true") == ["Zorro"]
    page = svc.get(path, query_string={"page": 2, "per_page": 2}).json
    assert (page["page"], page["per_page"], page["total"], len(page["items"])) == (2, 2, 3, 1)
    assert page["items"][0]["is_administrator"] is True
    assert svc.get(path, query_string={"per_page": 201}).status_code == 422
    assert svc.get(path, query_string={"status": "asleep"}).status_code == 422


def test_summary_counts_by_status_and_new_users(svc, account):
    svc.active_user(account["id"])
    svc.clock.advance(timedelta(days=2))
    svc.user(account["id"])
    body = user_body(email=None)
    svc.post(f"/internal/accounts/{account['id']}/users", body)
    summary = svc.get(
        f"/internal/accounts/{account['id']}/users/summary",
        query_string={"since": "2025-01-02T00:00:00Z"},
    ).json
    assert summary == {
        "active": 1,
        "pending_activation": 1,
        "without_email": 1,
        "locked": 0,
        "new_since_last_sign_in": 2,
        "administrators": 0,
        "groups": 0,
    }
    bad = svc.get(
        f"/internal/accounts/{account['id']}/users/summary", query_string={"since": "yesterday"}
    )
    assert bad.status_code == 422


def test_activation_emails_are_resent_to_pending_users_only(svc, account):
    pending, old_token = svc.user(account["id"])
    active = svc.active_user(account["id"])
    response = svc.post(
        f"/internal/accounts/{account['id']}/activation-emails",
        {"user_ids": [pending["id"], active["id"], "nobody"]},
        actor="admin-1",
    )
    assert response.status_code == 202
    assert (response.json["sent"], response.json["skipped"]) == (1, 2)
    assert svc.events("identity.links.issued") == [], "the links go out from identity's worker"
    assert svc.carry_out("identity.resend_activations") == 1
    [batch] = svc.events("identity.links.issued")
    assert (batch["purpose"], batch["resent"], batch["requested_by"]) == (
        "activation",
        True,
        "admin-1",
    )
    assert [link["user_id"] for link in batch["links"]] == [pending["id"]]
    # the new link works, the replaced one does not
    assert svc.get(f"/internal/activations/{old_token}").status_code == 410
    new_token = svc.token_of(pending["id"], "activation")
    assert svc.get(f"/internal/activations/{new_token}").status_code == 200
    assert (
        svc.post(
            f"/internal/accounts/{account['id']}/activation-emails", {"user_ids": []}
        ).status_code
        == 422
    )


def test_every_administrative_action_is_in_the_account_audit(svc, account):
    user, _ = svc.user(account["id"])
    path = f"/internal/accounts/{account['id']}/users/{user['id']}"
    svc.patch(path, {"function": "Boss"}, actor="admin-7")
    svc.post(
        f"/internal/accounts/{account['id']}/activation-emails",
        {"user_ids": [user["id"]]},
        actor="admin-7",
    )
    svc.delete(path, actor="admin-7")
    audit = svc.get(f"/internal/accounts/{account['id']}/audit").json
    actions = [(item["action"], item["actor"], item["source"]) for item in audit["items"]]
    assert actions == [
        ("user_deleted", "admin-7", "admin"),
        ("activation_sent", "admin-7", "admin"),
        ("user_updated", "admin-7", "admin"),
        ("user_created", "admin-1", "admin"),
        ("account_created", "operator", "operator"),
    ]
    assert (
        audit["items"][0]["target"] == user["email"]
        and audit["items"][0]["at"] == "2025-01-01T09:00:00Z"
    )
    assert audit["total"] == 5
    assert svc.get("/internal/accounts/nope/audit").status_code == 404


def test_taken_e_mails_for_the_importer_dry_run(svc, account):
    svc.user(account["id"], email="taken@example.com")
    response = svc.post(
        "/internal/emails/taken", {"emails": ["TAKEN@example.com", "free@example.com", "junk"]}
    )
    assert response.status_code == 200 and response.json == {"taken": ["TAKEN@example.com"]}
    assert svc.post("/internal/emails/taken", {"emails": ["a@b.c"] * 1001}).status_code == 422


def test_the_dashboard_call_answers_what_the_three_panel_endpoints_answer(svc, account):
    member = svc.active_user(account["id"])
    svc.user(account["id"])
    since = {"since": "2025-01-02T00:00:00Z"}
    audits = svc.get(
        f"/internal/users/{member['id']}/audits", query_string={"page": 1, "per_page": 3}
    ).json
    admins = svc.get(
        f"/internal/accounts/{account['id']}/administrators", query_string={"per_page": 200}
    ).json
    summary = svc.get(f"/internal/accounts/{account['id']}/users/summary", query_string=since).json
    assert audits["total"] > 0, "the member's activation is in its audit trail"

    one_call = svc.get(
        f"/internal/users/{member['id']}/dashboard", query_string={**since, "users": "1"}
    )
    assert one_call.status_code == 200, one_call.json
    assert one_call.json == {"last_audits": audits, "administrators": admins, "users": summary}
    # a member's page has no users panel: not computed
    member_page = svc.get(f"/internal/users/{member['id']}/dashboard", query_string=since).json
    assert set(member_page) == {"last_audits", "administrators"}
    assert svc.get("/internal/users/nobody/dashboard").status_code == 404


def lock(svc, user):
    for _ in range(5):
        svc.sign_in(user["email"], "wrong")


def test_the_dashboard_counts_and_lists_the_users_own_account_only(svc, account):
    other = svc.account()
    admin = svc.active_user(account["id"], last_name="Zola")
    member = svc.active_user(account["id"], last_name="Adam")
    stranger = svc.active_user(other["id"])
    svc.grant_admin(account["id"], admin["id"])
    svc.grant_admin(account["id"], admin["id"])  # a second subscription: still one administrator
    svc.grant_admin(other["id"], stranger["id"])
    locked, lapsed = svc.active_user(account["id"]), svc.active_user(account["id"])
    svc.clock.advance(timedelta(days=2))
    svc.user(account["id"])
    svc.post(f"/internal/accounts/{account['id']}/users", user_body(email=None))
    svc.user(other["id"])
    lock(svc, lapsed)
    svc.clock.advance(timedelta(minutes=20))  # the lapsed user's lock is over, unlocked or not
    lock(svc, locked)

    panels = svc.get(
        f"/internal/users/{member['id']}/dashboard",
        query_string={"users": "1", "since": "2025-01-02T00:00:00Z"},
    ).json
    assert panels["users"] == {
        "active": 3,
        "pending_activation": 1,
        "without_email": 1,
        "locked": 1,
        "new_since_last_sign_in": 2,
        "administrators": 1,
        "groups": 0,
    }
    administrators = panels["administrators"]
    assert [(a["id"], a["is_administrator"], a["status"]) for a in administrators["items"]] == [
        (admin["id"], True, "active")
    ]
    assert (administrators["total"], administrators["page"], administrators["per_page"]) == (
        1,
        1,
        200,
    )
    # the locked user's own page shows the lock in its last audits
    audits = svc.get(f"/internal/users/{locked['id']}/dashboard").json["last_audits"]
    assert [entry["user_id"] for entry in audits["items"]] == [locked["id"]] * 3
    assert audits["items"][0]["id"] > audits["items"][1]["id"] > audits["items"][2]["id"]
    assert audits["total"] > 5 and audits["per_page"] == 3


def test_the_dashboard_totals_count_beyond_the_first_page(svc, account):
    rows = [
        {
            "line": line,
            "title": "MME",
            "last_name": f"Name{line:03}",
            "first_name": "Bulk",
            "email": f"bulk{line}@example.com",
            "language": "fr-FR",
            "password_level": 2,
        }
        for line in range(2, 204)
    ]
    svc.process(
        "identity.create_users",
        {"account_id": account["id"], "import_job_id": "job-1", "batch": 1, "rows": rows},
    )
    created = [c["user_id"] for c in svc.last("identity.users.created")["users"]]
    for user_id in created[:201]:
        svc.grant_admin(account["id"], user_id)
    member = created[-1]

    panels = svc.get(f"/internal/users/{member}/dashboard", query_string={"users": "1"}).json
    administrators = panels["administrators"]
    assert len(administrators["items"]) == 200 and administrators["total"] == 201
    assert [a["last_name"] for a in administrators["items"]] == [
        f"Name{line:03}" for line in range(2, 202)
    ]
    assert panels["users"]["administrators"] == 201 and panels["users"]["pending_activation"] == 202
    assert panels["users"]["new_since_last_sign_in"] == 0, "no since: nobody is new"


def test_the_dashboard_answers_an_unknown_user_before_a_bad_instant(svc, account):
    member = svc.active_user(account["id"])
    bad = {"users": "1", "since": "yesterday"}
    assert svc.get("/internal/users/nobody/dashboard", query_string=bad).status_code == 404
    assert svc.get(f"/internal/users/{member['id']}/dashboard", query_string=bad).status_code == 422
    # a member's page does not read the instant
    assert (
        svc.get(
            f"/internal/users/{member['id']}/dashboard", query_string={"since": "yesterday"}
        ).status_code
        == 200
    )

"""The importer's identity.create_users batches: created rows, anomalies, one answer, idempotence."""

from __future__ import annotations

import uuid

import pytest

from bus.envelope import Envelope


def row(line, **fields):
    return {
        "line": line,
        "title": "MME",
        "last_name": "Dupont",
        "first_name": "Lovana",
        "email": f"user{line}@company.ws",
        "office_phone": None,
        "mobile_phone": None,
        "language": "en-US",
        "password_level": 2,
        **fields,
    }


@pytest.fixture
def account(svc):
    return svc.account()


def command(account_id, rows, job_id="job-1", batch=1):
    return {
        "account_id": account_id,
        "import_job_id": job_id,
        "batch": batch,
        "requested_by": "admin-5",
        "rows": rows,
    }


def test_a_batch_creates_valid_rows_and_answers_every_rows_fate(svc, account):
    taken, _ = svc.user(account["id"], email="taken@company.ws")
    rows = [
        row(2),
        row(3, email="TAKEN@company.ws"),
        row(4, title="DR", language="xx-XX"),
        row(5, email="user2@company.ws"),  # the same address as line 2
        row(6, mobile_phone="+33 6 12 34 56 78", password_level="3"),
        row(7, last_name="x" * 101, email="bad"),
    ]
    outcome = svc.process("identity.create_users", command(account["id"], rows))
    assert outcome.kind == "handled"
    [answer] = svc.envelopes("identity.users.created")
    data = answer["data"]
    assert (data["account_id"], data["import_job_id"], data["batch"]) == (account["id"], "job-1", 1)
    assert [(c["import_line"], c["email"]) for c in data["users"]] == [
        (2, "user2@company.ws"),
        (6, "user6@company.ws"),
    ]
    rejected = [(r["line"], r["field"]) for r in data["rejected"]]
    assert rejected == [
        (3, "email"),
        (4, "civility"),
        (4, "language"),
        (5, "email"),
        (7, "last_name"),
        (7, "email"),
    ]
    assert data["rejected"][0]["message"] == "This address is already used in the portal."
    assert all(r["message"] for r in data["rejected"])

    assert (data["source"], data["created_by"]) == ("import", "admin-5")
    created = data["users"]
    assert [user["import_line"] for user in created] == [2, 6]
    first = created[0]
    assert first["status"] == "pending_activation" and not first.get("grant_administration")
    assert created[1]["password_level"] == 3
    assert svc.count("identity.user.created") == 1, "the taken user's own: none per import row"
    assert svc.count("identity.link.issued") == 1
    [links] = svc.envelopes("identity.links.issued")
    assert (links["data"]["purpose"], links["data"]["account_id"]) == ("activation", account["id"])
    assert [(link["user_id"], link["recipient"]) for link in links["data"]["links"]] == [
        (created[0]["user_id"], "user2@company.ws"),
        (created[1]["user_id"], "user6@company.ws"),
    ]
    # events follow from the command: same correlation, the command as cause
    assert links["causation_id"] == answer["causation_id"] is not None
    [stored] = svc.rows("users", email="user6@company.ws")
    assert stored.mobile_phone == "+33612345678" and stored.password_hash is None
    assert stored.import_line == 6 and stored.source == "import"


def test_imported_users_activate_like_any_other(svc, account):
    svc.process("identity.create_users", command(account["id"], [row(2)]))
    user_id = svc.last("identity.users.created")["users"][0]["user_id"]
    token = svc.token_of(user_id, "activation")
    assert svc.post(f"/internal/activations/{token}", svc.activation_body()).status_code == 201
    assert svc.sign_in("user2@company.ws").status_code == 200


def test_re_importing_the_same_file_creates_nobody_twice(svc, account):
    rows = [row(line) for line in range(2, 12)]
    svc.process("identity.create_users", command(account["id"], rows))
    svc.process("identity.create_users", command(account["id"], rows, job_id="job-2"))
    first, second = svc.events("identity.users.created")
    assert len(first["users"]) == 10 and first["rejected"] == []
    assert second["users"] == [] and [r["line"] for r in second["rejected"]] == list(range(2, 12))
    assert len(svc.rows("users")) == 10


def test_a_redelivered_command_changes_nothing(svc, account):
    envelope = Envelope(
        type="identity.create_users",
        data=command(account["id"], [row(2), row(3)]),
        producer="importer",
    )
    processor = svc.part.processor()
    assert processor.process(envelope.to_json()).kind == "handled"
    assert processor.process(envelope.to_json()).kind == "duplicate"
    assert svc.count("identity.users.created") == 1
    assert len(svc.last("identity.users.created")["users"]) == 2


def test_a_batch_for_an_account_that_is_gone_rejects_every_row(svc):
    svc.process("identity.create_users", command(str(uuid.uuid4()), [row(2), row(3)]))
    answer = svc.last("identity.users.created")
    assert answer["users"] == [] and [r["line"] for r in answer["rejected"]] == [2, 3]


def test_a_row_with_odd_types_is_an_anomaly_not_a_dead_letter(svc, account):
    outcome = svc.process(
        "identity.create_users",
        command(account["id"], [row(2, title=None, last_name=42, password_level="high"), row(3)]),
    )
    assert outcome.kind == "handled"
    answer = svc.last("identity.users.created")
    assert [r["field"] for r in answer["rejected"]] == ["civility", "last_name", "password_level"]
    assert [c["import_line"] for c in answer["users"]] == [3]


def test_the_batch_is_one_transaction(svc, account, monkeypatch):
    from bus.uow import UnitOfWork

    def boom(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(UnitOfWork, "publish_many", boom)
    outcome = svc.process("identity.create_users", command(account["id"], [row(2), row(3)]))
    assert outcome.kind == "retry"
    assert svc.rows("users") == [] and svc.rows("tokens") == []
    assert svc.count("identity.users.created") == 0


def test_a_batch_of_500_rows(svc, account):
    rows = [row(line, email=f"bulk{line}@company.ws") for line in range(2, 502)]
    assert svc.process("identity.create_users", command(account["id"], rows)).kind == "handled"
    answer = svc.last("identity.users.created")
    assert len(answer["users"]) == 500 and answer["rejected"] == []
    [links] = svc.events("identity.links.issued")
    assert len(links["links"]) == 500
    listed = svc.get(
        f"/internal/accounts/{account['id']}/users", query_string={"per_page": 200}
    ).json
    assert listed["total"] == 500


def test_a_refused_line_carries_its_code_params_and_text_in_english_and_french(svc, account):
    svc.user(account["id"], email="taken@company.ws")
    rows = [
        row(2, email="taken@company.ws"),
        row(3, first_name=""),
        row(4, office_phone="12"),
        row(5, email="no-at-sign"),
    ]
    svc.process("identity.create_users", command(account["id"], rows))
    by_line = {r["line"]: r for r in svc.last("identity.users.created")["rejected"]}
    used, missing, phone, address = (by_line[line] for line in (2, 3, 4, 5))
    assert used["code"] == "import.address_used" and used["params"] == {}
    assert used["messages"] == {
        "en": "This address is already used in the portal.",
        "fr": "Cette adresse est déjà utilisée dans le portail.",
    }
    assert (missing["field"], missing["code"]) == ("first_name", "validation.required")
    assert missing["params"] == {"label": "first name"}
    assert missing["messages"]["en"] == missing["message"] == "The first name is required."
    assert missing["messages"]["fr"] == "Le champ « prénom » est obligatoire."
    assert (phone["field"], phone["code"]) == ("phone", "validation.phone_invalid")
    assert "téléphone" in phone["messages"]["fr"]
    assert address["code"] == "validation.email_invalid"
    assert address["messages"]["fr"].startswith("Nous ne pouvons pas utiliser cette adresse")


def test_a_batch_for_an_account_that_is_gone_says_so_in_both_languages(svc):
    svc.process("identity.create_users", command(str(uuid.uuid4()), [row(2)]))
    [refused] = svc.last("identity.users.created")["rejected"]
    assert (refused["field"], refused["code"]) == ("line", "import.no_account")
    assert refused["messages"]["en"] == refused["message"]
    assert refused["messages"]["fr"] != refused["message"] and refused["messages"]["fr"]

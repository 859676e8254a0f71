"""Identity's batch events: an import batch answers with one identity.users.created and one
identity.links.issued; a mass re-send over the bound is split by identity (never refused)."""

from __future__ import annotations

from bus.contracts.batches import BATCH_LIMIT


def import_rows(count: int, first_line: int = 2) -> list[dict]:
    return [
        {
            "line": line,
            "title": "MME",
            "last_name": "Dupont",
            "first_name": "Lovana",
            "email": f"bulk{line}@company.ws",
            "language": "fr-FR",
            "password_level": 2,
        }
        for line in range(first_line, first_line + count)
    ]


def test_a_mass_re_send_over_the_bound_goes_out_in_several_batches(svc):
    account = svc.account()
    user_ids = []
    for batch, first in enumerate(range(2, 1202, 400), 1):  # 1,200 pending users, imported
        svc.process(
            "identity.create_users",
            {
                "account_id": account["id"],
                "import_job_id": "job-1",
                "batch": batch,
                "rows": import_rows(400, first),
            },
        )
    for event in svc.events("identity.users.created"):
        user_ids += [user["user_id"] for user in event["users"]]
    assert len(user_ids) == 1200
    before = svc.count("identity.links.issued")

    answer = svc.post(
        f"/internal/accounts/{account['id']}/activation-emails",
        {"user_ids": user_ids[:1000]},
        actor="admin-1",
    )
    assert answer.status_code == 202, answer.json
    assert (answer.json["sent"], answer.json["skipped"]) == (1000, 0)
    commands = svc.events("identity.resend_activations")
    assert [len(command["user_ids"]) for command in commands] == [BATCH_LIMIT, 1000 - BATCH_LIMIT]
    assert svc.carry_out("identity.resend_activations") == 2
    batches = svc.events("identity.links.issued")[before:]
    assert [len(batch["links"]) for batch in batches] == [BATCH_LIMIT, 1000 - BATCH_LIMIT]
    assert [link["user_id"] for batch in batches for link in batch["links"]] == user_ids[:1000]
    assert {(batch["purpose"], batch["resent"]) for batch in batches} == {("activation", True)}
    assert svc.count("identity.link.issued") == 0, "no event per user"
    # every new link works, every replaced one does not
    first_links = [link for link in svc.links() if link["user_id"] == user_ids[0]]
    old, new = (url["link_url"].rsplit("/", 1)[1] for url in first_links)
    assert svc.get(f"/internal/activations/{old}").status_code == 410
    assert svc.get(f"/internal/activations/{new}").status_code == 200


def test_a_mass_re_send_above_a_thousand_users_is_answered_at_once_and_sent_in_batches(svc):
    account = svc.account()
    for batch, first in enumerate(range(2, 1502, 500), 1):  # 1,500 pending users, imported
        svc.process(
            "identity.create_users",
            {
                "account_id": account["id"],
                "import_job_id": "job-2",
                "batch": batch,
                "rows": import_rows(500, first),
            },
        )
    user_ids = [u["user_id"] for e in svc.events("identity.users.created") for u in e["users"]]
    before = svc.count("identity.links.issued")
    answer = svc.post(
        f"/internal/accounts/{account['id']}/activation-emails",
        {"user_ids": [*user_ids, "nobody"]},
        actor="admin-1",
    )
    assert answer.status_code == 202, answer.json
    assert (answer.json["sent"], answer.json["skipped"]) == (1500, 1)
    # a user activated between the answer and the batch gets no new link
    activated = user_ids[0]
    token = svc.token_of(activated, "activation")
    done = svc.post(f"/internal/activations/{token}", svc.activation_body())
    assert done.status_code == 201, done.json
    assert svc.carry_out("identity.resend_activations") == 3
    assert svc.carry_out("identity.resend_activations") == 0, "a redelivered command is a no-op"
    batches = svc.events("identity.links.issued")[before:]
    assert [len(batch["links"]) for batch in batches] == [BATCH_LIMIT - 1, BATCH_LIMIT, BATCH_LIMIT]
    assert [link["user_id"] for b in batches for link in b["links"]] == user_ids[1:]

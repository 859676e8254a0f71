"""Second-factor events become e-mails: each change of a user's factors to the user, in their
language; a change of an account's policy to each of its administrators; once per event."""

from __future__ import annotations

import pytest

from bus.consumer import Outcome


def handled(outcome: Outcome) -> None:
    assert outcome.kind == "handled", outcome


@pytest.fixture
def account(people):
    return people.account("RETAIL IT LIMITED")


@pytest.mark.parametrize(
    "change",
    ["totp_enabled", "passkey_removed", "recovery_code_used", "totp_code_reused", "factors_reset"],
)
def test_each_change_of_a_users_factors_is_e_mailed_to_them(notifications, people, account, change):
    user = people.user(account, "steven@example.test", language="fr-BE")
    data = {
        "user_id": user,
        "account_id": account,
        "change": change,
        "by": user,
        "name": "Clé USB",
        "recovery_codes_left": 9 if change == "recovery_code_used" else None,
    }
    handled(notifications.feed("identity.mfa.changed", data))
    (row,) = notifications.rows()
    assert (row.template, row.recipient, row.language) == (
        "mfa_changed",
        "steven@example.test",
        "fr-BE",
    )
    assert row.context["change"] == change
    assert row.context["changed_at"] == notifications.last.occurred_at
    # redelivered: nothing more
    assert (
        notifications.feed("identity.mfa.changed", data, envelope_id=notifications.last.id).kind
        == "duplicate"
    )
    assert len(notifications.rows()) == 1


def test_an_accounts_new_policy_is_e_mailed_to_its_administrators(notifications, people, account):
    first = people.admin(account, "admin1@example.test", language="fr-FR")
    people.admin(account, "admin2@example.test", language="en-US")
    other = people.account("ELSEWHERE")
    people.admin(other, "elsewhere@example.test")
    handled(
        notifications.feed(
            "identity.account.security_changed",
            {"account_id": account, "mfa_required_for": "everyone", "by": first},
        )
    )
    rows = sorted(notifications.rows(), key=lambda r: r.recipient)
    assert [(r.template, r.recipient, r.language) for r in rows] == [
        ("mfa_policy_changed", "admin1@example.test", "fr-FR"),
        ("mfa_policy_changed", "admin2@example.test", "en-US"),
    ]
    assert rows[0].context["account_name"] == "RETAIL IT LIMITED"
    assert rows[0].context["mfa_required_for"] == "everyone"

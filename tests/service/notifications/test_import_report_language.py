"""The import report e-mail speaks the recipient's language, anomalies and a failed import's
reason included: each anomaly of importer.import.finished, and the reason, come with their text
in every language; one without (stored or published before they had languages) is written in
English."""

from __future__ import annotations

import csv
import io

import pytest

from services.notifications.domain.rendering import Renderer
from tests.service.notifications.conftest import new_id

ANOMALIES = [
    {
        "line": 3,
        "field": "last_name",
        "message": "The last name is missing.",
        "code": "import.name_missing",
        "params": {"label": "last name"},
        "messages": {
            "en": "The last name is missing.",
            "fr": "Le champ « nom » est manquant.",
        },
    },
    {
        "line": 5,
        "field": "email",
        "message": "This address is already used in the portal.",
        "code": "import.address_used",
        "params": {},
        "messages": {
            "en": "This address is already used in the portal.",
            "fr": "Cette adresse est déjà utilisée dans le portail.",
        },
    },
    # stored before languages: English only
    {"line": 7, "field": "phone", "message": "The phone number 12 is not a phone number."},
]


@pytest.fixture
def account(people):
    return people.account("RETAIL IT LIMITED")


def report_for(notifications, admin, account, **data):
    outcome = notifications.feed(
        "importer.import.finished",
        {
            "import_job_id": new_id(),
            "account_id": account,
            "requested_by": admin,
            "filename": "users.csv",
            "status": "done",
            "rows": 10,
            "created": 7,
            "rejected": 3,
            "anomalies": ANOMALIES,
            **data,
        },
    )
    assert outcome.kind == "handled", outcome
    [row] = [row for row in notifications.rows() if row.user_id == admin]
    email = Renderer().render(row.template, row.language, row.context)
    [report] = row.attachments
    cells = list(csv.reader(io.StringIO(report["content"][1:]), delimiter=";"))
    return email, cells


def test_a_french_administrator_reads_the_anomalies_in_french(notifications, people, account):
    admin = people.admin(account, "admin.fr@example.test", language="fr-FR")
    email, cells = report_for(notifications, admin, account)
    for body in (email.text, email.html):
        assert "Le champ « nom » est manquant." in body
        assert "Cette adresse est déjà utilisée dans le portail." in body
        assert "The last name is missing." not in body
        assert "The phone number 12 is not a phone number." in body  # English only: as stored
    assert "Anomalies relevées" in email.text
    assert cells == [
        ["line", "field", "message"],
        ["3", "last_name", "Le champ « nom » est manquant."],
        ["5", "email", "Cette adresse est déjà utilisée dans le portail."],
        ["7", "phone", "The phone number 12 is not a phone number."],
    ]


def test_an_english_administrator_reads_them_in_english(notifications, people, account):
    admin = people.admin(account, "admin.en@example.test", language="en-GB")
    email, cells = report_for(notifications, admin, account)
    assert "The last name is missing." in email.text
    assert "Le champ « nom » est manquant." not in email.text
    assert cells[1:] == [
        ["3", "last_name", "The last name is missing."],
        ["5", "email", "This address is already used in the portal."],
        ["7", "phone", "The phone number 12 is not a phone number."],
    ]


# A failed import's reason as the importer publishes it (its own catalog).
FAILED = {
    "status": "failed",
    "reason": "Reading the file was interrupted 3 times, so the import was stopped.",
    "reason_code": "import.interrupted",
    "reason_params": {"attempts": 3},
    "reason_messages": {
        "en": "Reading the file was interrupted 3 times, so the import was stopped.",
        "fr": "La lecture du fichier a été interrompue 3 fois : l'import a donc été arrêté.",
    },
}


def test_a_french_administrator_reads_a_failed_imports_reason_in_french(
    notifications, people, account
):
    admin = people.admin(account, "failed.fr@example.test", language="fr-FR")
    email, _ = report_for(notifications, admin, account, **FAILED)
    for body in (email.text, email.html):
        assert "n’a pas pu aboutir" in body
        assert FAILED["reason_messages"]["fr"] in body.replace("&#39;", "'")
        assert "was interrupted" not in body


def test_an_english_administrator_reads_it_in_english(notifications, people, account):
    admin = people.admin(account, "failed.en@example.test", language="en-GB")
    email, _ = report_for(notifications, admin, account, **FAILED)
    for body in (email.text, email.html):
        assert "could not be completed" in body
        assert FAILED["reason"] in body
        assert "interrompue" not in body


def test_a_reason_published_before_languages_reads_in_english(notifications, people, account):
    admin = people.admin(account, "failed.old@example.test", language="fr-FR")
    old = {"status": "failed", "reason": "The file can no longer be read: The file is empty."}
    email, _ = report_for(notifications, admin, account, **old)
    assert "n’a pas pu aboutir" in email.text
    assert "The file can no longer be read: The file is empty." in email.text

"""An import read in the reader's language: the job page and the CSV report show the anomalies
in the signed-in administrator's language (identity's refusals and the importer's own), whatever
the browser asks for, and so does the report e-mail with its CSV attachment; a failed import's
reason too; English for an English profile. The whole portal runs in-process (the e-mails land
in its built-in mailbox)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from html import unescape

import pytest

from portico import demo
from services.importer.service_layer import runner
from tests.security.web_pages import start_pages
from tests.waiting_kit import eventually

FRENCH = demo.ADMINS["90293532"]["email"]  # fr-FR
ENGLISH = demo.ADMINS["90293531"]["email"]  # en-GB


def lines(tag: str) -> bytes:
    rows = [
        f"MME;Martin;Claire;claire.{tag}@example.com;;;fr-FR;2",
        f"M;Durand;Paul;paul.{tag}@;;;fr-FR;2",  # 2: an address the importer refuses
        f"M;;Paul;paul.leroy.{tag}@example.com;;;fr-FR;2",  # 3: no last name
        f"M;Petit;Luc;luc.{tag}@example.com;12;;fr-FR;2",  # 4: not a phone number
        f"MME;Roux;Ana;{FRENCH};;;fr-FR;2",  # 5: identity: the address is already used
    ]
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    started = start_pages(
        tmp_path_factory.mktemp("import-language"), f"ial{datetime.now(UTC):%H%M%S%f}"
    )
    yield started
    started.stop()


def imported(pages, email: str, tag: str, filename: str = "users.csv"):
    """Sign in as `email` (the browser asking for the other language), import the file, wait
    for the job's end; (browser, job page path, the page's text)."""
    browser = pages.browser()
    browser.sign_in(email, demo.PASSWORD)
    browser.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB" if email == FRENCH else "fr-FR"
    form = browser.form("/users/import")
    answer = browser.client.post(
        "/users/import",
        data={**form, "file": (io.BytesIO(lines(tag)), filename)},
        headers={"Origin": browser.origin},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
    path = answer.headers["Location"].replace(pages.public_url, "")
    assert re.fullmatch(r"/users/import/[^/]+/[^/]+", path), path

    def finished() -> str:
        page = unescape(browser.get(path).get_data(as_text=True))
        assert 'data-running="false"' in page, "the job still runs"
        return page

    return browser, path, eventually(finished, what="the import's end")


def report(browser, path: str) -> list[list[str]]:
    answer = browser.get(f"{path}/report.csv")
    assert answer.status_code == 200
    return list(
        csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff")), delimiter=";")
    )


def report_mail(pages, email: str, subject: str) -> tuple[str, list[list[str]]]:
    """The text of the import report e-mail sent to `email` and its attached CSV, parsed."""
    client = pages.embedded.apps["notifications"].test_client()
    token = pages.embedded.parts["notifications"].settings.service_token
    headers = {"Authorization": f"Bearer {token}"}

    def sent() -> dict:
        answer = client.get("/internal/mailbox", query_string={"to": email}, headers=headers)
        found = [m for m in answer.get_json()["items"] if m["subject"].startswith(subject)]
        assert found, f"no e-mail '{subject}' to {email} yet"
        return found[0]

    mail = eventually(sent, what="the import report e-mail")
    text = client.get(f"/internal/mailbox/{mail['id']}", headers=headers).get_json()["text"]
    attached = client.get(f"/internal/mailbox/{mail['id']}/attachments/0", headers=headers)
    content = attached.get_data(as_text=True).lstrip("\ufeff")
    return text, list(csv.reader(io.StringIO(content), delimiter=";"))


def test_a_french_administrator_reads_the_anomalies_in_french(pages):
    browser, path, page = imported(pages, FRENCH, "fr")
    assert "L'adresse e-mail 'paul.fr@' n'est pas valide" in page
    assert "Le champ « nom » est manquant." in page
    assert "Le numéro de téléphone '12' n'est pas un numéro" in page
    assert "Cette adresse est déjà utilisée dans le portail." in page  # identity's refusal
    assert "is missing" not in page and "already used in the portal" not in page
    rows = report(browser, path)
    assert rows[0] == ["line", "field", "message"]
    assert ["3", "last_name", "Le champ « nom » est manquant."] in rows
    assert ["5", "email", "Cette adresse est déjà utilisée dans le portail."] in rows

    text, attached = report_mail(pages, FRENCH, "Import d’utilisateurs terminé")
    assert "Le champ « nom » est manquant." in text
    assert "Cette adresse est déjà utilisée dans le portail." in text
    assert "is missing" not in text
    assert ["3", "last_name", "Le champ « nom » est manquant."] in attached


def test_an_english_administrator_reads_them_in_english(pages):
    browser, path, page = imported(pages, ENGLISH, "en")
    assert "The last name is missing." in page
    assert "This address is already used in the portal." in page
    assert "Le champ « nom » est manquant." not in page
    rows = report(browser, path)
    assert ["3", "last_name", "The last name is missing."] in rows
    assert ["5", "email", "This address is already used in the portal."] in rows

    text, attached = report_mail(pages, ENGLISH, "User import finished")
    assert "The last name is missing." in text
    assert "This address is already used in the portal." in text
    assert ["3", "last_name", "The last name is missing."] in attached


@pytest.fixture
def broken_runner(monkeypatch):
    """The runner meets an unexpected error on a file named broken-*.csv: its job fails."""
    original = runner.parse_upload

    def parse(stream, filename, **options):
        if filename.startswith("broken-"):
            raise RuntimeError("the parser met something it did not expect")
        return original(stream, filename, **options)

    monkeypatch.setattr(runner, "parse_upload", parse)


def test_a_french_administrators_failed_import_says_why_in_french(pages, broken_runner):
    _, _, page = imported(pages, FRENCH, "failfr", filename="broken-fr.csv")
    assert "L'import a échoué." in page
    assert "<strong>Motif:</strong> L'import s'est arrêté sur une erreur inattendue." in page
    assert 'data-code="import.unexpected_error"' in page
    assert "unexpected error" not in page and "RuntimeError" not in page

    text, _ = report_mail(pages, FRENCH, "Import d’utilisateurs terminé\u00a0: broken-fr.csv")
    assert "n’a pas pu aboutir" in text
    assert "L'import s'est arrêté sur une erreur inattendue." in text
    assert "unexpected error" not in text


def test_an_english_administrators_failed_import_says_why_in_english(pages, broken_runner):
    _, _, page = imported(pages, ENGLISH, "failen", filename="broken-en.csv")
    assert "<strong>Reason:</strong> The import stopped on an unexpected error." in page
    assert "erreur inattendue" not in page

    text, _ = report_mail(pages, ENGLISH, "User import finished: broken-en.csv")
    assert "The import stopped on an unexpected error." in text

"""An import's anomalies and a failed job's reason in the reader's language: the job and its CSV
report in the caller's, the finished event with every language for the e-mail; an anomaly or a
reason stored before they had languages still reads, in English."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import sqlalchemy as sa

from bus.i18n import _l
from services.importer.adapters.orm import import_anomalies, import_jobs
from services.importer.domain import FileRejected
from services.importer.service_layer import runner

from .conftest import Api, csv_bytes, outbox_messages, run_jobs, user_lines

GOOD = "MME;Martin;Claire;claire.martin@example.com;;;fr-FR;2"
LINES = [
    GOOD,
    "M;Durand;Paul;paul.durand@;;;fr-FR;2",  # 2: bad e-mail
    "M;;Paul;paul.leroy@example.com;;;fr-FR;2",  # 3: no last name
    "M;Petit;Luc;luc.petit@example.com;12;;fr-FR;2",  # 4: bad phone
    "MME;Roux;Ana;ana.roux@example.com;;;fr-FR;2",  # 5: identity says the address is used
]
# identity.users.created's entry for line 5, as identity publishes it (its own catalog).
ADDRESS_USED = {
    "field": "email",
    "message": "This address is already used in the portal.",
    "code": "import.address_used",
    "params": {},
    "messages": {
        "en": "This address is already used in the portal.",
        "fr": "Cette adresse est déjà utilisée dans le portail.",
    },
}


def in_language(api, account, job_id, language, report=False):
    path = f"/internal/accounts/{account}/imports/{job_id}" + ("/report.csv" if report else "")
    answer = api.client.get(path, headers={**api.headers(), "Accept-Language": language})
    assert answer.status_code == 200
    return answer


def imported(api, part, identity, account) -> str:
    answer = api.upload(account, csv_bytes(LINES))
    assert answer.status_code == 202, answer.get_json()
    identity.refuse[5] = ADDRESS_USED
    run_jobs(part)
    identity.answer()
    return answer.get_json()["id"]


def test_the_job_shows_its_anomalies_in_the_callers_language(api, part, identity, account):
    job_id = imported(api, part, identity, account)

    french = in_language(api, account, job_id, "fr-FR").get_json()
    assert french["status"] == "done" and french["rejected"] == 4
    by_line = {a["line"]: a for a in french["anomalies"]}
    assert (by_line[2]["field"], by_line[2]["code"]) == ("email", "import.email_invalid")
    assert by_line[2]["message"].startswith("L'adresse e-mail 'paul.durand@' n'est pas valide")
    assert by_line[3]["code"] == "import.name_missing"
    assert by_line[3]["params"] == {"label": "last name"}
    assert by_line[3]["message"] == "Le champ « nom » est manquant."
    assert by_line[4]["code"] == "import.phone_invalid"
    assert by_line[4]["message"].startswith("Le numéro de téléphone '12' n'est pas un numéro")
    assert by_line[5]["code"] == "import.address_used"
    assert by_line[5]["message"] == "Cette adresse est déjà utilisée dans le portail."

    english = in_language(api, account, job_id, "en").get_json()
    by_line = {a["line"]: a for a in english["anomalies"]}
    assert by_line[3]["message"] == "The last name is missing."
    assert by_line[5]["message"] == "This address is already used in the portal."
    assert [a["code"] for a in english["anomalies"]] == [a["code"] for a in french["anomalies"]]


def test_the_csv_report_is_in_the_callers_language(api, part, identity, account):
    job_id = imported(api, part, identity, account)

    def report(language):
        text = in_language(api, account, job_id, language, report=True).data.decode("utf-8-sig")
        return list(csv.reader(io.StringIO(text), delimiter=";"))

    french = report("fr")
    assert french[0] == ["line", "field", "message"]  # the columns keep their names
    assert ["3", "last_name", "Le champ « nom » est manquant."] in french
    assert ["5", "email", "Cette adresse est déjà utilisée dans le portail."] in french
    english = report("en-GB")
    assert ["3", "last_name", "The last name is missing."] in english
    assert ["5", "email", "This address is already used in the portal."] in english


def test_the_finished_event_carries_every_language_and_the_code(api, part, identity, account):
    imported(api, part, identity, account)
    [finished] = outbox_messages(part, "importer.import.finished")
    by_line = {a["line"]: a for a in finished["data"]["anomalies"]}
    assert by_line[3]["message"] == "The last name is missing."
    assert by_line[3]["messages"] == {
        "en": "The last name is missing.",
        "fr": "Le champ « nom » est manquant.",
    }
    assert (by_line[3]["code"], by_line[3]["params"]) == (
        "import.name_missing",
        {"label": "last name"},
    )
    assert by_line[5]["messages"]["fr"] == "Cette adresse est déjà utilisée dans le portail."


def test_an_answer_without_languages_is_kept_and_shown_in_english(api, part, identity, account):
    answer = api.upload(account, csv_bytes([GOOD, GOOD.replace("claire.martin", "ana")]))
    job_id = answer.get_json()["id"]
    identity.refuse[2] = ("email", "This address is already used in the portal.")
    run_jobs(part)
    identity.answer()
    [anomaly] = in_language(api, account, job_id, "fr").get_json()["anomalies"]
    assert anomaly["message"] == "This address is already used in the portal."
    assert (anomaly["code"], anomaly["params"]) == ("import.anomaly", {})


def test_an_anomaly_stored_before_languages_still_reads_in_english(api, part, account):
    job_id = api.upload(account, csv_bytes(["M;;Paul;paul@example.com;;;fr-FR;2"])).get_json()["id"]
    run_jobs(part)  # no valid row: the job ends without identity
    with part.engine.begin() as conn:  # a row as migration 0001 wrote them
        conn.execute(
            sa.update(import_anomalies)
            .where(import_anomalies.c.job_id == job_id)
            .values(message="The last name is missing.", code=None, params=None, messages=None)
        )
    job = in_language(api, account, job_id, "fr").get_json()
    assert job["anomalies"] == [
        {
            "line": 1,
            "field": "last_name",
            "message": "The last name is missing.",
            "code": "import.anomaly",
            "params": {},
        }
    ]
    report = in_language(api, account, job_id, "fr", report=True).data.decode("utf-8-sig")
    assert "1;last_name;The last name is missing." in report


def test_a_line_that_is_not_csv_says_why_in_french_without_pythons_english(api, part, account):
    too_long_field = "M;Durand;" + "x" * 200_000 + ";paul@example.com;;;fr-FR;2"
    job_id = api.upload(account, csv_bytes([GOOD, too_long_field])).get_json()["id"]
    run_jobs(part)
    french = in_language(api, account, job_id, "fr").get_json()
    [anomaly] = [a for a in french["anomalies"] if a["line"] == 2]
    assert anomaly["code"] == "import.line_unreadable"
    assert "field limit" in anomaly["params"]["error"]  # Python's reason, for support
    assert anomaly["message"].startswith("Cette ligne n'a pas pu être lue comme du CSV")
    assert "importez de nouveau la ligne" in anomaly["message"]
    assert "field" not in anomaly["message"] and "limit" not in anomaly["message"]
    [english] = [a for a in in_language(api, account, job_id, "en").get_json()["anomalies"]]
    assert english["message"].startswith("This line could not be read as CSV, ")
    assert "limit" not in english["message"]


def unanswered_job(make_part, clock, account):
    """A job whose identity answers never came, failed by the sweep; (api, part, job id)."""
    part = make_part(PORTICO_IMPORT_ANSWER_TIMEOUT_SECONDS=600, PORTICO_IMPORT_BATCH_SIZE=1)
    api = Api(part)
    job_id = api.upload(account, csv_bytes(user_lines(3))).get_json()["id"]
    run_jobs(part)
    clock.advance(timedelta(seconds=601))
    assert runner.fail_abandoned_jobs(part.uow()) == [job_id]
    return api, part, job_id


def test_a_failed_jobs_reason_reads_in_the_callers_language(make_part, clock, account):
    api, part, job_id = unanswered_job(make_part, clock, account)

    french = in_language(api, account, job_id, "fr-FR").get_json()
    assert french["status"] == "failed"
    assert french["reason_code"] == "import.identity_silent"
    assert french["reason_params"] == {"batches": "1, 2, 3", "seconds": 600}
    assert french["reason"].startswith(
        "Le service des identités n'a pas répondu au(x) lot(s) 1, 2, 3 de cet import en 600"
    )
    english = in_language(api, account, job_id, "en-GB").get_json()
    assert english["reason"].startswith("The identity service did not answer batch(es) 1, 2, 3")
    assert english["reason_code"] == "import.identity_silent"

    [finished] = outbox_messages(part, "importer.import.finished")
    data = finished["data"]
    assert data["reason"] == english["reason"]  # English, for an older reader
    assert (data["reason_code"], data["reason_params"]) == (
        "import.identity_silent",
        {"batches": "1, 2, 3", "seconds": 600},
    )
    assert data["reason_messages"] == {"en": english["reason"], "fr": french["reason"]}


def test_a_file_that_no_longer_reads_fails_with_the_uploads_code(api, part, account, monkeypatch):
    job_id = api.upload(account, csv_bytes(user_lines(2))).get_json()["id"]

    def parse(stream, filename, **options):
        raise FileRejected(
            "too_large",
            _l(
                "The file is larger than {megabytes} MB, the most that can be imported at once.",
                megabytes="5",
            ),
            _l("Split it into several files and import them one after the other."),
        )

    monkeypatch.setattr(runner, "parse_upload", parse)
    run_jobs(part)
    french = in_language(api, account, job_id, "fr").get_json()
    assert (french["status"], french["reason_code"]) == ("failed", "import.file_too_large")
    assert french["reason_params"] == {"megabytes": "5"}
    assert french["reason"].startswith("Le fichier ne peut plus être lu :")
    assert "larger than" not in french["reason"] and "Split it" not in french["reason"]
    english = in_language(api, account, job_id, "en").get_json()
    assert english["reason"].startswith("The file can no longer be read: The file is larger")


def test_an_unexpected_error_keeps_pythons_text_in_params_only(api, part, account, monkeypatch):
    job_id = api.upload(account, csv_bytes(user_lines(2))).get_json()["id"]

    def parse(stream, filename, **options):
        raise RuntimeError("the parser met something it did not expect")

    monkeypatch.setattr(runner, "parse_upload", parse)
    run_jobs(part)
    french = in_language(api, account, job_id, "fr").get_json()
    assert french["reason_code"] == "import.unexpected_error"
    assert french["reason_params"] == {
        "error": "RuntimeError: the parser met something it did not expect"
    }
    assert french["reason"].startswith("L'import s'est arrêté sur une erreur inattendue.")
    assert "parser" not in french["reason"]


def test_a_reason_stored_before_languages_still_reads_in_english(make_part, clock, account):
    api, part, job_id = unanswered_job(make_part, clock, account)
    old = "The identity service did not answer batch(es) 1, 2, 3 of this import within 600 s."
    with part.engine.begin() as conn:  # a failed job as migration 0001 wrote it
        conn.execute(
            sa.update(import_jobs)
            .where(import_jobs.c.id == job_id)
            .values(reason=old, reason_code=None, reason_params=None, reason_messages=None)
        )
    job = in_language(api, account, job_id, "fr").get_json()
    assert (job["status"], job["reason"]) == ("failed", old)
    assert (job["reason_code"], job["reason_params"]) == ("import.failed", {})
    done = in_language(api, account, api.upload(account, csv_bytes([GOOD])).get_json()["id"], "fr")
    assert done.get_json()["reason"] is None and done.get_json()["reason_code"] is None

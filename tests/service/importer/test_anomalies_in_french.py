"""An import's anomalies in the reader's language: the job and its CSV report in the caller's,
the finished event with every language for the e-mail; an anomaly stored before anomalies had
languages still reads, in English."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from services.importer.adapters.orm import import_anomalies

from .conftest import csv_bytes, outbox_messages, run_jobs

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

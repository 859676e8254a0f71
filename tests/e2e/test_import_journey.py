"""The bulk import of the manual (5.3), end to end, with the `portico import` command.

An administrator checks a file (dry run: nothing is created), imports it (the valid rows become
users who get their activation e-mail and the account's automatic services; the administrator
gets the report by e-mail), reads the anomalies through the API and imports the file again
(nobody is created twice). Every part runs as its own processes (tests/e2e/harness.py).
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Cluster, eventually
from tests.e2e.test_identity_journey import (
    ADMIN,
    PASSWORD,
    Portal,
    create_account,
    create_administrator,
    portal,  # noqa: F401 - the fixture
    wait_until_administrator,
)

pytestmark = pytest.mark.e2e
MAIL_TIMEOUT = 60.0


def run_import(
    cluster: Cluster, path: Path, number: str, env: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    environment.update(PORTICO_GATEWAY_URL=cluster.gateway_url, PYTHONPATH=os.getcwd(), **env)
    return subprocess.run(
        [sys.executable, "-m", "portico.cli", "import", str(path), "--account", number, *extra],
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )


def users_of(cluster: Cluster, account_id: str) -> dict[str, Any]:
    rows = cluster.query(
        "identity",
        "SELECT id, email, source, import_line FROM users WHERE account_id = :a",
        a=account_id,
    )
    return {row.email: row for row in rows}


@pytest.fixture
def administrator(portal: Portal):  # noqa: F811 - the imported fixture
    account = create_account(portal, "Journey Import Ltd")
    email = f"admin-{uuid.uuid4().hex[:10]}@example.com"
    _, before = create_administrator(portal, account, email)
    token = portal.link_token(email, "Your account activation link", "activate", before)
    portal.activate(email, token, ADMIN)
    headers = portal.session(email)
    wait_until_administrator(portal, headers, account["id"])
    return account, email, headers


def test_an_administrator_imports_users_with_the_command(portal, administrator, tmp_path):  # noqa: F811
    cluster = portal.cluster
    account, admin_email, admin = administrator
    tag = uuid.uuid4().hex[:8]
    people = [f"imported-{tag}-{n}@example.com" for n in range(5)]
    lines = [
        "Civility;Last name;First name;Email address;Phone;Mobile;Language code;Security level",
        *(
            f"MME;Hopper{n};Grace;{email};+33 1 23 45 67 8{n};;en-US;2"
            for n, email in enumerate(people)
        ),
        f"M;Turing;Alan;{admin_email};;;en-GB;2",  # line 7: the administrator's address, taken
        '=HYPERLINK("http://x");Babbage;Charles;not-an-address;;;en-GB;2',  # line 8: two anomalies
    ]
    path = tmp_path / "team.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    services = portal.http.get(
        f"/api/v1/accounts/{account['id']}/services", headers=admin, params={"per_page": 200}
    ).json()["items"]
    auto = next(
        s for s in services if not s["requires_validation"] and s["family"] == "information_flow"
    )
    answer = portal.http.patch(
        f"/api/v1/accounts/{account['id']}/services",
        headers=admin,
        json={"service_ids": [auto["id"]], "auto_subscribe": True},
    )
    assert answer.status_code == 200, answer.text
    env = {"PORTICO_IMPORT_EMAIL": admin_email, "PORTICO_IMPORT_PASSWORD": PASSWORD}

    # A dry run checks everything, portal-wide uniqueness included, and imports nothing.
    checked = run_import(cluster, path, account["number"], env, "--dry-run")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert (
        "(dry run): 7 rows; 5 users would be created, 2 rows rejected. Nothing was imported."
        in checked.stdout
    )
    assert "line 7, email: This address is already used in the portal." in checked.stdout
    assert not set(people) & set(users_of(cluster, account["id"]))

    # The import itself.
    before = len(cluster.mail)
    imported = run_import(cluster, path, account["number"], env)
    assert imported.returncode == 1, imported.stdout + imported.stderr
    assert "team.csv: 7 rows; 5 users created, 2 rows rejected." in imported.stdout
    assert "line 7, email: This address is already used in the portal." in imported.stdout
    assert "line 8, civility:" in imported.stdout and "line 8, email:" in imported.stdout
    created = users_of(cluster, account["id"])
    assert {email: created[email].import_line for email in people} == {
        e: n + 2 for n, e in enumerate(people)
    }
    assert {created[email].source for email in people} == {"import"}

    # Each created user gets the activation e-mail and the account's automatic services.
    for email in people:
        cluster.mail.wait_for_mail(
            to=email,
            subject_contains="Your account activation link",
            timeout=MAIL_TIMEOUT,
            after=before,
        )
    first = created[people[0]]

    def subscribed() -> bool:
        answer = portal.http.get(
            f"/api/v1/accounts/{account['id']}/users/{first.id}/subscriptions", headers=admin
        )
        assert answer.status_code == 200, answer.text
        held = {item["service"]["id"] for item in answer.json()["items"]}
        assert auto["id"] in held, held
        return True

    eventually(subscribed, timeout=30, what="the automatic service of an imported user")

    # The administrator is e-mailed the report, and reads it through the API.
    report_mail = cluster.mail.wait_for_mail(
        to=admin_email, subject_contains="import", timeout=MAIL_TIMEOUT, after=before
    )
    assert "Line 7" in report_mail.text and "Line 8" in report_mail.text
    job_id = imported.stderr.split("job ")[1].split(".")[0]
    job = portal.http.get(
        f"/api/v1/accounts/{account['id']}/imports/{job_id}", headers=admin
    ).json()
    assert (job["status"], job["rows"], job["processed"], job["created"], job["rejected"]) == (
        "done",
        7,
        7,
        5,
        2,
    )
    report = portal.http.get(
        f"/api/v1/accounts/{account['id']}/imports/{job_id}/report.csv", headers=admin
    )
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    cells = [row for row in csv.reader(io.StringIO(report.text.lstrip("\ufeff")), delimiter=";")]
    assert cells[0] == ["line", "field", "message"]
    assert [row[:2] for row in cells[1:]] == [["7", "email"], ["8", "civility"], ["8", "email"]]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in cells for cell in row)

    # Importing the same file again creates nobody twice.
    again = run_import(cluster, path, account["number"], env)
    assert again.returncode == 1
    assert "team.csv: 7 rows; 0 users created, 7 rows rejected." in again.stdout
    assert len([e for e in users_of(cluster, account["id"]) if e in people]) == 5


def test_a_job_of_another_account_is_not_found(portal, administrator, tmp_path):  # noqa: F811
    account, admin_email, admin = administrator
    other = create_account(portal, "Journey Import Other Ltd")
    path = tmp_path / "one.csv"
    path.write_text(
        f"M;Knuth;Donald;knuth-{uuid.uuid4().hex[:8]}@example.com;;;en-US;2\n", encoding="utf-8"
    )
    done = run_import(
        portal.cluster,
        path,
        account["number"],
        {"PORTICO_IMPORT_EMAIL": admin_email, "PORTICO_IMPORT_PASSWORD": PASSWORD},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    job_id = done.stderr.split("job ")[1].split(".")[0]
    for account_id in (other["id"], str(uuid.uuid4())):
        answer = portal.http.get(f"/api/v1/accounts/{account_id}/imports/{job_id}", headers=admin)
        assert answer.status_code == 404


def test_a_file_level_error_is_answered_at_once(portal, administrator, tmp_path):  # noqa: F811
    account, admin_email, _ = administrator
    path = tmp_path / "team.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    refused = run_import(
        portal.cluster,
        path,
        account["number"],
        {"PORTICO_IMPORT_EMAIL": admin_email, "PORTICO_IMPORT_PASSWORD": PASSWORD},
    )
    assert refused.returncode == 2
    assert "team.xlsx cannot be imported; nothing was imported." in refused.stdout
    assert "Only .csv files can be imported" in refused.stdout


def test_the_operator_imports_with_the_operator_token(portal, tmp_path):  # noqa: F811
    cluster = portal.cluster
    account = create_account(portal, "Journey Import Operator Ltd")
    path = tmp_path / "one.csv"
    path.write_text(
        f"M;Ritchie;Dennis;ritchie-{uuid.uuid4().hex[:8]}@example.com;;;en-US;2\n", encoding="utf-8"
    )
    done = run_import(
        cluster, path, account["number"], {"PORTICO_OPERATOR_TOKEN": cluster.operator_token}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 user created" in done.stdout

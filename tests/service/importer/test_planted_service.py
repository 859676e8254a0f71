"""A 1,000-row file with 50 planted anomalies, through the service: exactly those are reported."""

from __future__ import annotations

from tests.service.importer.conftest import outbox_messages, run_jobs
from tests.unit.importer.planted import planted_file


def test_the_planted_anomalies_and_only_they_are_reported(api, part, identity, account) -> None:
    planted = planted_file(rows=1000, plants=50)
    job_id = api.upload(account, planted.content, filename="planted.csv").get_json()["id"]

    run_jobs(part)
    identity.answer()

    job = api.job(account, job_id).get_json()
    assert job["status"] == "done"
    assert [(a["line"], a["field"]) for a in job["anomalies"]] == planted.expected
    assert (job["rows"], job["processed"], job["created"], job["rejected"]) == (1000, 1000, 950, 50)
    sent = [
        row["line"]
        for c in outbox_messages(part, "identity.create_users")
        for row in c["data"]["rows"]
    ]
    assert len(sent) == 950
    assert not {line for line, _ in planted.expected} & set(sent)
    report = api.report(account, job_id).data.decode("utf-8").splitlines()
    assert len(report) == 1 + 50

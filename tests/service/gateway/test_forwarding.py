"""Self-service, profile and administration calls reach the owning service with the right shapes."""

from __future__ import annotations

import io

from tests.service.gateway.conftest import bearer, new_id


def test_activation_wizard(gw):
    gw.identity.on(
        "GET",
        "/internal/activations/{t}",
        {"email": "a@example.com", "password_level": 2, "password_rules": ["8+ characters"]},
    )
    gw.identity.on(
        "POST", "/internal/activations/{t}", {"id": "u1", "status": "active", "event_id": "e"}, 201
    )
    assert gw.client.get("/api/v1/activations/tok").get_json()["password_rules"] == [
        "8+ characters"
    ]
    body = {
        "title": "M",
        "last_name": "Doe",
        "first_name": "J",
        "language": "fr-FR",
        "password": "Pw-123456",
    }
    done = gw.client.post("/api/v1/activations/tok", json=body)
    assert done.status_code == 201 and done.get_json()["status"] == "active"
    gw.identity.on(
        "GET",
        "/internal/activations/{t}",
        {
            "type": "about:blank",
            "title": "Gone",
            "status": 410,
            "detail": "This link was already used.",
        },
        410,
    )
    assert gw.client.get("/api/v1/activations/tok").status_code == 410


def test_reset_and_email_change_links(gw):
    gw.identity.on("POST", "/internal/password-resets/{t}", None, 204)
    gw.identity.on("POST", "/internal/email-changes/{t}", None, 204)
    assert (
        gw.client.post("/api/v1/password-resets/tok", json={"password": "New-pass-1"}).status_code
        == 204
    )
    assert gw.client.post("/api/v1/email-changes/tok").status_code == 204


def test_me_adds_what_the_caller_administers(gw):
    account = gw.account()
    admin = gw.user(account, admin=True)
    me = gw.client.get("/api/v1/me", headers=bearer(gw.sign_in(admin))).get_json()
    assert (
        me["administers"] == [account] and me["supervises"] == [] and me["account"]["id"] == account
    )


def test_email_change_and_audits(gw):
    user = gw.user(gw.account())
    session = gw.sign_in(user)
    gw.identity.on("POST", "/internal/users/{u}/email-change", None, 202)
    gw.identity.on(
        "GET",
        "/internal/users/{u}/audits",
        {"items": [{"action": "sign_in"}], "page": 2, "per_page": 5, "total": 6},
    )
    assert (
        gw.client.post(
            "/api/v1/me/email-change",
            json={"new_email": "new@example.com"},
            headers=bearer(session),
        ).status_code
        == 202
    )
    audits = gw.client.get(
        "/api/v1/me/audits?page=2&per_page=5", headers=bearer(session)
    ).get_json()
    assert audits == {"items": [{"action": "sign_in"}], "page": 2, "per_page": 5, "total": 6}


def test_subscribers_are_users_with_their_subscription(gw):
    account = gw.account()
    admin = gw.user(account, admin=True)
    gw.subscriptions.on(
        "GET",
        "/internal/accounts/{a}/services/{s}/subscribers",
        {
            "items": [
                {
                    "user_id": "u1",
                    "subscription_id": "s1",
                    "status": "accepted",
                    "expires_on": None,
                    "effective": True,
                    "email": "u1@example.com",
                    "last_name": "One",
                    "first_name": "U",
                    "status_of_user": "active",
                }
            ],
            "page": 1,
            "per_page": 10,
            "total": 1,
        },
    )
    listed = gw.client.get(
        f"/api/v1/accounts/{account}/services/svc/subscribers", headers=bearer(gw.sign_in(admin))
    ).get_json()
    assert listed["items"][0]["id"] == "u1" and listed["items"][0]["status"] == "active"
    assert listed["items"][0]["subscription_status"] == "accepted"


def test_deleting_a_user_ends_their_sessions_at_once(gw):
    account = gw.account()
    admin, member = gw.user(account, admin=True), gw.user(account)
    member_session = gw.sign_in(member)
    gw.identity.on("DELETE", "/internal/accounts/{a}/users/{u}", None, 204)
    deleted = gw.client.delete(
        f"/api/v1/accounts/{account}/users/{member['id']}", headers=bearer(gw.sign_in(admin))
    )
    assert deleted.status_code == 204
    assert gw.client.get("/api/v1/me", headers=bearer(member_session)).status_code == 401


ANOMALY = {
    "line": 2,
    "field": "last_name",
    "message": "Le champ « nom » est manquant.",
    "code": "import.name_missing",
    "params": {"label": "last name"},
}


def test_import_upload_report_and_job(gw):
    account = gw.account()
    admin = gw.user(account, admin=True)
    session = gw.sign_in(admin)
    job = {"id": new_id(), "status": "queued", "rows": 2}
    gw.fakes["importer"].on("POST", "/internal/accounts/{a}/imports", job, 202)
    gw.fakes["importer"].on(
        "GET",
        "/internal/accounts/{a}/imports/{j}",
        {
            **job,
            "status": "done",
            "processed": 2,
            "created": 1,
            "rejected": 1,
            "anomalies": [ANOMALY],
        },
    )
    uploaded = gw.client.post(
        f"/api/v1/accounts/{account}/imports?dry_run=true",
        headers=bearer(session),
        data={"file": (io.BytesIO(b"M;Doe;J;j@example.com;;;en-GB;1\n"), "users.csv")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 202 and uploaded.get_json()["rows"] == 2
    call = gw.fakes["importer"].calls[-1]
    assert call.args == {"dry_run": "true"} and call.headers["Content-Type"].startswith(
        "multipart/form-data"
    )
    read = gw.client.get(
        f"/api/v1/accounts/{account}/imports/{job['id']}", headers=bearer(session)
    ).get_json()
    assert read["anomalies"] == [ANOMALY]  # its code and params too
    missing = gw.client.post(
        f"/api/v1/accounts/{account}/imports",
        headers=bearer(session),
        data={"other": "x"},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422 and "file" in missing.get_json()["errors"]


def test_a_failed_imports_reason_comes_with_its_code_and_params(gw):
    account = gw.account()
    session = gw.sign_in(gw.user(account, admin=True))
    failed = {
        "id": new_id(),
        "status": "failed",
        "anomalies": [],
        "reason": "La lecture du fichier a été interrompue 3 fois : l'import a donc été arrêté.",
        "reason_code": "import.interrupted",
        "reason_params": {"attempts": 3},
    }
    gw.fakes["importer"].on("GET", "/internal/accounts/{a}/imports/{j}", failed)
    read = gw.client.get(
        f"/api/v1/accounts/{account}/imports/{failed['id']}", headers=bearer(session)
    ).get_json()
    assert {k: read[k] for k in ("reason", "reason_code", "reason_params")} == {
        k: failed[k] for k in ("reason", "reason_code", "reason_params")
    }


def test_import_report_is_passed_through_as_csv(gw):
    from flask import Response

    account = gw.account()
    admin = gw.user(account, admin=True)
    csv = "line;field;message\r\n2;email;'=cmd\r\n"
    gw.fakes["importer"].on(
        "GET",
        "/internal/accounts/{a}/imports/{j}/report.csv",
        lambda **_: (Response(csv, mimetype="text/csv"), 200),
    )
    report = gw.client.get(
        f"/api/v1/accounts/{account}/imports/job-1/report.csv", headers=bearer(gw.sign_in(admin))
    )
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert (
        report.get_data(as_text=True) == csv
        and "attachment" in report.headers["Content-Disposition"]
    )

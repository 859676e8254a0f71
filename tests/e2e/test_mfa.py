"""Second factors end to end (every part its own process, PostgreSQL, RabbitMQ, SMTP): a user of
the cluster sets up an authenticator application and signs in with its code, is e-mailed the
change, registers a passkey (a software authenticator) and signs in with it alone; a code typed
twice is refused; the account's policy holds a new session to enrolment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.e2e.test_identity_journey import (
    MAIL_TIMEOUT,
    PASSWORD,
    Portal,
    administered_account,
    bearer,
    create_active_user,
    unique_email,
)
from tests.mfa_kit import SoftAuthenticator, code_at

pytestmark = pytest.mark.e2e


@pytest.fixture
def portal(cluster):
    opened = Portal(cluster)
    yield opened
    opened.close()


def test_a_cluster_user_signs_in_with_totp_and_with_a_passkey(portal):
    account, admin = administered_account(portal, "Second Factor Ltd")
    email = unique_email("mfa")
    create_active_user(portal, account["id"], admin, email)
    headers = portal.session(email)

    before = len(portal.cluster.mail)
    started = portal.http.post("/api/v1/me/mfa/totp", headers=headers)
    assert started.status_code == 201, started.text
    secret = started.json()["secret"]
    confirmed = portal.http.post(
        "/api/v1/me/mfa/totp/confirm",
        headers=headers,
        json={"code": code_at(secret, datetime.now(UTC), -1)},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert len(confirmed.json()["recovery_codes"]) == 10
    portal.cluster.mail.wait_for_mail(
        to=email, subject_contains="second factor", timeout=MAIL_TIMEOUT, after=before
    )

    step = portal.sign_in(email, PASSWORD, expect=202).json()
    assert step["mfa_required"] is True and "totp" in step["methods"]
    code = code_at(secret, datetime.now(UTC))
    done = portal.http.post(
        "/api/v1/session/mfa", json={"mfa_token": step["mfa_token"], "code": code}
    )
    assert done.status_code == 201, done.text
    assert portal.http.get("/api/v1/me", headers=bearer(done.json()["token"])).status_code == 200
    replay = portal.sign_in(email, PASSWORD, expect=202).json()["mfa_token"]
    assert (
        portal.http.post(
            "/api/v1/session/mfa", json={"mfa_token": replay, "code": code}
        ).status_code
        == 401
    )

    authenticator = SoftAuthenticator(portal.cluster.gateway_url)
    options = portal.http.post("/api/v1/me/mfa/passkeys/options", headers=headers)
    assert options.status_code == 200, options.text
    registered = portal.http.post(
        "/api/v1/me/mfa/passkeys",
        headers=headers,
        json={"name": "Laptop", "credential": authenticator.create(options.json())},
    )
    assert registered.status_code == 201, registered.text
    request = portal.http.post("/api/v1/session/passkey/options", json={}).json()
    alone = portal.http.post(
        "/api/v1/session/passkey", json={"credential": authenticator.get(request)}
    )
    assert alone.status_code == 201, alone.text
    assert alone.json()["user"]["email"] == email


def test_the_policy_holds_a_new_session_to_enrolment(portal):
    account, admin = administered_account(portal, "Policy Ltd")
    email = unique_email("held")
    create_active_user(portal, account["id"], admin, email)
    changed = portal.http.patch(
        f"/api/v1/accounts/{account['id']}/security",
        headers=admin,
        json={"mfa_required_for": "everyone"},
    )
    assert changed.status_code == 200, changed.text
    held = portal.sign_in(email, PASSWORD, expect=202).json()
    assert held["enrolment_required"] is True
    headers = bearer(held["token"])
    assert portal.http.get("/api/v1/me/subscriptions", headers=headers).status_code == 403
    secret = portal.http.post("/api/v1/me/mfa/totp", headers=headers).json()["secret"]
    confirmed = portal.http.post(
        "/api/v1/me/mfa/totp/confirm",
        headers=headers,
        json={"code": code_at(secret, datetime.now(UTC))},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert portal.http.get("/api/v1/me/subscriptions", headers=headers).status_code == 200

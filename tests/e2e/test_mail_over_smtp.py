"""An e-mail crosses every hop of the distributed mode: gateway → identity → bus → notifications → SMTP."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.e2e


def test_an_operator_created_administrator_receives_the_activation_email(cluster):
    number = cluster.create_account("Mail Ltd")["number"]
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    before = len(cluster.mail)

    response = cluster.http.post(
        f"/api/v1/operator/accounts/{number}/administrators",
        json={
            "email": email,
            "title": "MME",
            "last_name": "Lovelace",
            "first_name": "Ada",
            "language": "en-US",
        },
        headers=cluster.operator_headers,
    )
    assert response.status_code == 201, response.text

    mail = cluster.mail.wait_for_mail(to=email, timeout=30, after=before)
    links = [link for link in mail.links if link.startswith(f"{cluster.gateway_url}/activate/")]
    assert links, f"no activation link under PORTICO_PUBLIC_URL in:\n{mail.text}"
    assert mail.message["From"] and "administrateur@portico.test" in mail.message["From"]

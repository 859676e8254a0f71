"""The demo, loaded through the gateway in front of the real services (embedded mode), then used."""

from __future__ import annotations

import io

import pytest

from portico import demo
from portico.runtime import Embedded
from tests.waiting_kit import eventually


@pytest.fixture
def embedded(tmp_path, prefix):
    instance = Embedded(tmp_path, {"PORTICO_BUS_PREFIX": prefix}).build().start()
    yield instance
    instance.stop.set()


def sign_in(client, email):
    answer = client.post("/api/v1/session", json={"email": email, "password": demo.PASSWORD})
    assert answer.status_code == 201, answer.get_json()
    return {"Authorization": f"Bearer {answer.get_json()['token']}"}


def test_demo_loads_once_and_the_portal_works_with_it(embedded):
    out = io.StringIO()
    assert demo.load_once(embedded, out), out.getvalue()
    assert "claire.dubois@retail-it.example" in out.getvalue() and demo.PASSWORD in out.getvalue()
    again = io.StringIO()
    assert demo.load_once(embedded, again) and again.getvalue() == ""

    client = embedded.gateway.test_client()
    claire = sign_in(client, demo.ADMINS["90293531"]["email"])
    accounts = client.get("/api/v1/accounts", headers=claire).get_json()["items"]
    assert [(a["number"], a["role"]) for a in accounts] == [
        ("90293531", "administrator"),
        ("90293532", "supervisor"),
    ]
    assert client.get("/api/v1/invoices", headers=claire).status_code == 200
    parent_id, shop_id = accounts[0]["id"], accounts[1]["id"]
    statuses = {
        u["email"]: u["status"]
        for u in client.get(
            f"/api/v1/accounts/{parent_id}/users?per_page=50", headers=claire
        ).get_json()["items"]
    }
    assert {"active", "pending_activation", "locked"} <= set(statuses.values())
    requests = client.get(
        f"/api/v1/accounts/{parent_id}/subscription-requests", headers=claire
    ).get_json()
    assert requests["total"] >= 1

    # the profile page's panels, composed from the real services: every one answered
    panels = client.get("/api/v1/me/dashboard", headers=claire).get_json()
    assert not [
        name
        for name, panel in panels.items()
        if isinstance(panel, dict) and panel.get("unavailable")
    ]
    assert demo.ADMINS["90293531"]["email"] in [
        admin["email"] for admin in panels["administrators"]
    ]
    assert panels["last_audits"] and panels["last_audits"][0]["action"] == "sign_in"
    assert panels["users"]["active"] >= 1 and panels["users"]["pending_activation"] >= 1
    summary = client.get(
        f"/api/v1/accounts/{parent_id}/users?per_page=50&status=active", headers=claire
    ).get_json()
    assert panels["users"]["active"] == summary["total"]

    sophie = sign_in(client, demo.USERS[0][0]["email"])
    # the printed banner calls pending only what waits for an administrator
    held = {
        sub["service"]["code"]: sub["status"]
        for sub in client.get("/api/v1/me/subscriptions?per_page=200", headers=sophie).get_json()[
            "items"
        ]
    }
    line = next(text for text in out.getvalue().splitlines() if "requests by" in text)
    pending = line.split("pending", 1)[1].split(";")[0]
    for code in demo.REQUESTED:
        assert (code in pending) == (held[code] == "pending"), (code, held[code], line)
    refused = client.get("/api/v1/invoices", headers=sophie)
    assert (
        refused.status_code == 403
        and "waiting for an administrator" in refused.get_json()["detail"]
    )

    olivier = sign_in(client, demo.ADMINS["90293532"]["email"])
    # the demo waits for the parent's administrator only: the shop's reaches the gateway's
    # projection on its own time (identity → subscriptions → gateway)
    eventually(
        lambda: client.get(f"/api/v1/accounts/{shop_id}/users", headers=olivier).status_code == 200,
        what="the shop's administrator allowed to list its users",
    )
    assert client.get(f"/api/v1/accounts/{parent_id}/users", headers=olivier).status_code == 404


def test_the_demo_loads_with_an_smtp_server_where_no_outbox_keeps_a_link(tmp_path, prefix):
    """With PORTICO_SMTP_URL set there is no mailbox, and identity blanks a link once published:
    the demo hears the activation links on the bus, and its administrators can sign in."""
    from tests.service.notifications.smtp_sink import RecordingHandler, start_sink, url_of

    handler = RecordingHandler()
    sink = start_sink(handler)
    env = {"PORTICO_BUS_PREFIX": prefix, "PORTICO_SMTP_URL": url_of(sink)}
    instance = Embedded(tmp_path, env).build().start()
    try:
        out = io.StringIO()
        assert demo.load_once(instance, out), out.getvalue()
        client = instance.gateway.test_client()
        for admin in demo.ADMINS.values():
            sign_in(client, admin["email"])
        # the e-mails go out from notifications' delivery loop, after the demo has its links
        eventually(
            lambda: (
                demo.ADMINS["90293531"]["email"]
                in {message["To"] for message in handler.messages()}
            ),
            what="the administrator's activation e-mail at the SMTP server",
        )
    finally:
        instance.stop.set()
        sink.stop()

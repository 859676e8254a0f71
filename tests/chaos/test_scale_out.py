"""Scale-out sanity: with two replicas of every worker, the periodic and background work is done once.

On the chaos cluster (two `worker` replicas of every part, tests/chaos/cluster.py): the expiry
job announces each expired subscription once, the mail sender sends each e-mail once, the
import runner imports a file once, and the retention sweep deletes each old row once (the two
replicas' counts add up to the rows there were).
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from tests.chaos.cluster import ChaosCluster
from tests.chaos.people import ADMIN, PASSWORD, USER
from tests.e2e.harness import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

DEADLINE = 120.0
USERS = 10
ROWS = 150


def said(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:300]}"


def administrator(
    cluster: ChaosCluster, http: httpx.Client
) -> tuple[dict[str, Any], str, dict[str, str]]:
    """A new account and its administrator, activated and signed in; (account, e-mail, headers)."""
    account = cluster.create_account(f"Scale Out {uuid.uuid4().hex[:6]}")
    email = f"scale-admin-{uuid.uuid4().hex[:10]}@example.com"
    before = len(cluster.mail)
    made = http.post(
        f"/api/v1/operator/accounts/{account['number']}/administrators",
        json={"email": email, **ADMIN},
        headers=cluster.operator_headers,
    )
    assert made.status_code == 201, said(made)
    mail = cluster.mail.wait_for_mail(
        to=email, subject_contains="Your account activation link", timeout=DEADLINE, after=before
    )
    token = next(link for link in mail.links if "/activate/" in link).rsplit("/", 1)[1]
    done = http.post(
        f"/api/v1/activations/{token}",
        json={
            **ADMIN,
            "function": None,
            "office_phone": None,
            "mobile_phone": None,
            "password": PASSWORD,
        },
    )
    assert done.status_code == 201, said(done)
    signed = http.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert signed.status_code == 201, said(signed)
    headers = {"Authorization": f"Bearer {signed.json()['token']}"}

    def administers() -> bool:
        answer = http.get("/api/v1/accounts", headers=headers)
        return any(
            a["id"] == account["id"] and a.get("role") == "administrator"
            for a in answer.json()["items"]
        )

    eventually(administers, timeout=DEADLINE, what="the administration grant in the gateway")
    return account, email, headers


def received(cluster: ChaosCluster, subject: str) -> Counter[str]:
    """How many e-mails with exactly this subject each recipient received."""
    return Counter(
        r.lower() for m in list(cluster.mail) if m.subject == subject for r in m.recipients
    )


@pytest.fixture
def http(chaos_cluster: ChaosCluster):
    with httpx.Client(
        base_url=chaos_cluster.gateway_url,
        timeout=60,
        headers={"X-Forwarded-For": f"10.9.{uuid.uuid4().int % 250}.7"},
    ) as client:
        yield client


def test_two_expiry_jobs_expire_and_announce_each_subscription_once(chaos_cluster, http):
    cluster = chaos_cluster
    account, _, admin = administrator(cluster, http)
    services = http.get(
        f"/api/v1/accounts/{account['id']}/services", headers=admin, params={"per_page": 200}
    )
    service = next(s for s in services.json()["items"] if s["code"] == "invoice_checking")
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    users = []
    for _ in range(USERS + 1):
        email = f"scale-expiry-{uuid.uuid4().hex[:10]}@example.com"
        made = http.post(
            f"/api/v1/accounts/{account['id']}/users",
            headers=admin,
            json={"email": email, **USER, "password_level": 2},
        )
        assert made.status_code == 201, said(made)
        granted = http.post(
            f"/api/v1/accounts/{account['id']}/users/{made.json()['id']}/subscriptions",
            headers=admin,
            json={"service_ids": [service["id"]], "expires_on": tomorrow},
        )
        assert granted.status_code == 201, said(granted)
        users.append((email, granted.json()["items"][0]["id"]))
    batch, sentinel = users[:USERS], users[USERS]

    # Time moves for these subscriptions alone: their date is put in the past where subscriptions
    # keeps it (the API refuses a past date); both replicas' expiry jobs (every 2 s) find them due.
    yesterday = date.today() - timedelta(days=1)
    with cluster.engine("subscriptions").begin() as conn:
        changed = conn.execute(
            sa.text("UPDATE subscriptions SET expires_on = :d WHERE id = ANY(:ids)"),
            {"d": yesterday, "ids": [sid for _, sid in batch]},
        )
        assert changed.rowcount == USERS
    subject = f"Subscription expired: {service['title']}"
    eventually(
        lambda: all(received(cluster, subject)[e] >= 1 for e, _ in batch),
        timeout=DEADLINE,
        what=f"the {USERS} expiry e-mails",
    )
    # The jobs kept running: a subscription expired afterwards is announced too, later.
    with cluster.engine("subscriptions").begin() as conn:
        conn.execute(
            sa.text("UPDATE subscriptions SET expires_on = :d WHERE id = :id"),
            {"d": yesterday, "id": sentinel[1]},
        )
    eventually(
        lambda: received(cluster, subject)[sentinel[0]] >= 1,
        timeout=DEADLINE,
        what="the expiry e-mail of the later subscription",
    )

    counts = received(cluster, subject)
    assert {e: counts[e] for e, _ in users} == {e: 1 for e, _ in users}
    for email, sid in batch:
        uid = next(
            u
            for u in http.get(
                f"/api/v1/accounts/{account['id']}/users", headers=admin, params={"email": email}
            ).json()["items"]
        )["id"]
        held = httpx.get(  # subscriptions' own answer (its internal API, the service token)
            f"{cluster.urls['subscriptions']}/internal/users/{uid}/subscriptions",
            headers=cluster.service_headers,
            params={"status": "expired"},
        )
        assert held.status_code == 200, said(held)
        assert [s["status"] for s in held.json()["items"] if s["id"] == sid] == ["expired"], (
            held.json()
        )


def test_two_import_runners_import_a_file_once_and_two_mail_senders_send_each_email_once(
    chaos_cluster, http
):
    cluster = chaos_cluster
    account, admin_email, admin = administrator(cluster, http)
    tag = uuid.uuid4().hex[:8]
    emails = [f"scale-import-{tag}-{n}@example.com" for n in range(ROWS)]
    lines = [
        "Civility;Last name;First name;Email address;Phone;Mobile;Language code;Security level"
    ]
    lines += [f"MME;Hopper{n};Grace;{email};;;en-US;1" for n, email in enumerate(emails)]
    name = f"scale-{tag}.csv"
    job = http.post(
        f"/api/v1/accounts/{account['id']}/imports",
        headers=admin,
        files={"file": (name, ("\r\n".join(lines) + "\r\n").encode(), "text/csv")},
    )
    assert job.status_code == 202, said(job)

    def finished() -> dict[str, Any]:
        answer = http.get(
            f"/api/v1/accounts/{account['id']}/imports/{job.json()['id']}", headers=admin
        )
        assert answer.status_code == 200, said(answer)
        state = answer.json()
        assert state["status"] in ("done", "failed") or None, state["status"]
        return state

    state = eventually(finished, timeout=DEADLINE * 2, interval=1, what="the import job's end")
    assert (state["status"], state["created"], state["rejected"]) == ("done", ROWS, 0), state
    report = f"User import finished: {name}"
    eventually(
        lambda: received(cluster, report)[admin_email] >= 1,
        timeout=DEADLINE,
        what="the report e-mail",
    )
    activation = "Your account activation link"
    eventually(
        lambda: all(received(cluster, activation)[e] >= 1 for e in emails),
        timeout=DEADLINE * 2,
        interval=1,
        what=f"the {ROWS} activation e-mails",
    )
    listed = http.get(
        f"/api/v1/accounts/{account['id']}/users",
        headers=admin,
        params={"per_page": 200, "email": f"scale-import-{tag}"},
    )
    assert listed.status_code == 200, said(listed)
    assert sorted(u["email"] for u in listed.json()["items"]) == sorted(emails)
    counts = received(cluster, activation)
    assert [e for e in emails if counts[e] != 1] == []
    assert received(cluster, report)[admin_email] == 1


def retention_deleted(cluster: ChaosCluster, part: str) -> float:
    """Outbox rows the retention sweeps of the part's worker replicas say they deleted."""
    total = 0.0
    for url in cluster.replica_worker_urls[part]:
        text = httpx.get(f"{url}/metrics", timeout=5).text
        total += sum(
            s.value
            for f in text_string_to_metric_families(text)
            if f.name == "portico_bus_retention_deleted"
            for s in f.samples
            if s.name.endswith("_total")
            and s.labels.get("part") == part
            and s.labels.get("table") == "bus_outbox"
        )
    return total


def test_two_retention_sweeps_delete_each_old_row_once(chaos_cluster):
    cluster = chaos_cluster
    part = "identity"
    published = "SELECT seq FROM bus_outbox WHERE published_at IS NOT NULL ORDER BY seq"
    rows = [row.seq for row in cluster.query(part, published)]
    assert len(rows) >= 4, "identity has published events to sweep"
    old, recent = rows[: len(rows) // 2], rows[len(rows) // 2 :]
    with cluster.engine(part).begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE bus_outbox SET published_at = now() - interval '30 days' "
                "WHERE seq = ANY(:s)"
            ),
            {"s": old},
        )
    # Both replicas start again at once: each sweeps at start, racing for the same rows.
    for r in range(cluster.replicas):
        cluster.kill(f"{part}-worker-{r}")
    for r in range(cluster.replicas):
        cluster.revive(f"{part}-worker-{r}")
    cluster.wait_ready()
    eventually(
        lambda: retention_deleted(cluster, part) >= len(old),
        timeout=DEADLINE,
        what="the sweeps' count of deleted outbox rows",
    )
    assert cluster.query(part, "SELECT seq FROM bus_outbox WHERE seq = ANY(:s)", s=old) == []
    assert [
        r.seq
        for r in cluster.query(
            part, "SELECT seq FROM bus_outbox WHERE seq = ANY(:s) ORDER BY seq", s=recent
        )
    ] == recent
    assert retention_deleted(cluster, part) == len(old)

"""The chaos test's invariant checker: what every part says through its API, against the ledger.

The ledger is what the load's journeys were answered 2xx (tests/chaos/load.py). Each part is
read through its own API (the services' internal API with the service token, the gateway's
public API with each account administrator's session), and the SMTP sink's mailbox, never
their tables. `check(...)` answers the list of broken promises (empty: all kept).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.chaos.cluster import ChaosCluster
from tests.chaos.people import NEW_PASSWORD, PASSWORD

MAIL_DEADLINE = 180.0  # seconds after the load for the last e-mails (retries back off)
MAIL_CONNECTIONS = 4  # PORTICO_MAIL_CONNECTIONS's default


def read_ledger(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def expected_mails(ledger: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """(recipient, subject) → how many e-mails the journeys of the ledger must have caused."""
    wanted: Counter[tuple[str, str]] = Counter()
    for entry in ledger:
        kind = entry["kind"]
        if kind == "user":
            wanted[(entry["email"], "Your account activation link")] += 1
        elif kind == "decided":
            word = "accepted" if entry["decision"] == "accept" else "refused"
            wanted[(entry["email"], f"Request {word}: {entry['title']}")] += 1
        elif kind == "email_change_asked":
            wanted[(entry["new"], "Email change confirmation")] += 1
        elif kind == "reset_asked":
            wanted[(entry["email"], "Reset your password")] += 1
        elif kind == "import":
            for email in entry["emails"]:
                wanted[(email, "Your account activation link")] += 1
            wanted[(entry["admin_email"], f"User import finished: {entry['file']}")] += 1
    return wanted


def mail_counts(cluster: ChaosCluster) -> Counter[tuple[str, str]]:
    """(recipient, subject) → how many different e-mails (Message-IDs) came: the same e-mail
    sent again, with its Message-ID, is counted by `resent_mails`."""
    seen = {
        (recipient.lower(), mail.subject, str(mail.message.get("Message-ID", "")))
        for mail in list(cluster.mail)
        for recipient in mail.recipients
    }
    return Counter((to, subject) for to, subject, _ in seen)


def resent_mails(cluster: ChaosCluster) -> list[str]:
    """The e-mails received more than once with one Message-ID: sent again by the mail sender
    after a crash between the server's acceptance and its 'sent' mark."""
    ids = Counter(
        (recipient.lower(), mail.subject, str(mail.message.get("Message-ID", "")))
        for mail in list(cluster.mail)
        for recipient in mail.recipients
    )
    return [f"{to} {subject!r} received {n} times" for (to, subject, _), n in ids.items() if n > 1]


def doubled_mails(cluster: ChaosCluster) -> list[str]:
    """Different e-mails (Message-IDs) with the same recipient, subject and text: one event
    handled twice."""
    seen: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for mail in list(cluster.mail):
        for recipient in mail.recipients:
            seen[(recipient.lower(), mail.subject, mail.text)].add(
                str(mail.message.get("Message-ID", ""))
            )
    return [
        f"{to} {subject!r} received as {len(ids)} different e-mails (Message-IDs)"
        for (to, subject, _), ids in seen.items()
        if len(ids) > 1
    ]


def resends_allowed(cluster: ChaosCluster, faults: Sequence[Any]) -> int:
    """How many e-mails the faults may make the sender send again with their Message-ID: a
    notifications worker killed or paused past its lease between the SMTP server's acceptance
    and the 'sent' mark, at most one per SMTP connection (services/notifications: delivery)."""
    connections = int(cluster.env.get("PORTICO_MAIL_CONNECTIONS", MAIL_CONNECTIONS))
    hits = [
        f
        for f in faults
        if f.kind in ("kill-worker", "pause") and f.target.startswith("notifications-worker")
    ]
    return connections * len(hits)


def wait_for_mails(cluster: ChaosCluster, wanted: Counter[tuple[str, str]]) -> list[str]:
    """Wait (bounded) until every wanted e-mail came; the wanted ones missing or doubled."""
    deadline = time.monotonic() + MAIL_DEADLINE
    while True:
        counts = mail_counts(cluster)
        missing = [key for key, n in wanted.items() if counts[key] < n]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    problems = [f"lost e-mail: {subject!r} to {to}" for to, subject in missing]
    problems += [
        f"doubled e-mail: {subject!r} to {to} ({counts[(to, subject)]} for {n})"
        for (to, subject), n in wanted.items()
        if counts[(to, subject)] > n
    ]
    return problems


class Reader:
    """Reads the parts through their APIs."""

    def __init__(self, cluster: ChaosCluster) -> None:
        self.cluster = cluster
        self.http = httpx.Client(timeout=30)
        self.sessions: dict[str, dict[str, str]] = {}

    def service(self, part: str, path: str, **params: Any) -> httpx.Response:
        return self.http.get(
            f"{self.cluster.urls[part]}{path}", headers=self.cluster.service_headers, params=params
        )

    def all_items(self, part: str, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self.service(part, path, page=page, per_page=200, **params)
            assert answer.status_code == 200, (
                f"{part} GET {path}: {answer.status_code} {answer.text[:300]}"
            )
            batch = answer.json()["items"]
            items += batch
            if len(batch) < 200:
                return items
            page += 1

    def admin_session(self, email: str) -> dict[str, str]:
        if email not in self.sessions:
            address = (
                f"10.{random.randint(0, 254)}.{random.randint(0, 254)}.{random.randint(1, 254)}"
            )
            for password in (PASSWORD, NEW_PASSWORD):
                answer = self.http.post(
                    f"{self.cluster.gateway_url}/api/v1/session",
                    json={"email": email, "password": password},
                    headers={"X-Forwarded-For": address},
                )
                if answer.status_code == 201:
                    self.sessions[email] = {
                        "Authorization": f"Bearer {answer.json()['token']}",
                        "X-Forwarded-For": address,
                    }
                    break
            else:
                raise AssertionError(
                    f"the administrator {email} cannot sign in: {answer.status_code} {answer.text}"
                )
        return self.sessions[email]

    def close(self) -> None:
        self.http.close()


def check(
    cluster: ChaosCluster,
    ledger: list[dict[str, Any]],
    planted: dict[str, int],
    faults: Sequence[Any] = (),
) -> tuple[list[str], list[str]]:
    """Every promise of the chaos test about the data: (the broken ones, the e-mails sent again
    with their Message-ID, which the faults allow up to `resends_allowed`)."""
    problems: list[str] = []
    reader = Reader(cluster)
    resent: list[str] = []
    try:
        problems += wait_for_mails(cluster, expected_mails(ledger))
        problems += [f"doubled e-mail: {line}" for line in doubled_mails(cluster)]
        resent = resent_mails(cluster)
        allowed = resends_allowed(cluster, list(faults))
        if len(resent) > allowed:
            problems += [
                f"{len(resent)} e-mails sent again with their Message-ID, {allowed} allowed by "
                f"the faults: {'; '.join(resent[:10])}"
            ]
        for section in (_users, _subscriptions, _imports):
            try:
                problems += section(reader, ledger)
            except (AssertionError, httpx.HTTPError, KeyError) as exc:
                problems.append(f"{section.__name__.strip('_')}: could not be read: {exc!r}")
        dead = cluster.dead_letters()
        problems += [
            f"{part}: {n} dead letters, {planted.get(part, 0)} planted"
            for part, n in dead.items()
            if n != planted.get(part, 0)
        ]
    finally:
        reader.close()
    return problems, resent


def _final_emails(ledger: list[dict[str, Any]]) -> dict[str, str]:
    emails = {e["user_id"]: e["email"] for e in ledger if e["kind"] == "user"}
    for entry in ledger:
        if entry["kind"] == "email_changed":
            emails[entry["user_id"]] = entry["new"]
    return emails


def _users(reader: Reader, ledger: list[dict[str, Any]]) -> list[str]:
    """Each user created is in identity once, with its last address, known to subscriptions and
    to notifications (a delivery for them)."""
    problems = []
    users = [e for e in ledger if e["kind"] == "user"]
    emails = _final_emails(ledger)
    delivered_to = {
        d.get("user_id") for d in reader.all_items("notifications", "/internal/deliveries")
    }
    for entry in users:
        uid = entry["user_id"]
        answer = reader.service("identity", f"/internal/users/{uid}")
        if answer.status_code != 200:
            problems.append(f"identity lost user {uid} ({entry['email']}): {answer.status_code}")
            continue
        if answer.json()["email"].lower() != emails[uid]:
            problems.append(f"identity: user {uid} has {answer.json()['email']}, not {emails[uid]}")
        same = [
            u
            for u in reader.all_items(
                "identity", f"/internal/accounts/{entry['account_id']}/users", email=emails[uid]
            )
            if u["email"].lower() == emails[uid]
        ]
        if len(same) != 1:
            problems.append(f"identity: {len(same)} users with {emails[uid]} in their account")
        held = reader.service("subscriptions", f"/internal/users/{uid}/subscriptions")
        if held.status_code != 200:
            problems.append(
                f"subscriptions does not know user {uid}: {held.status_code} {held.text[:200]}"
            )
        if uid not in delivered_to:
            problems.append(f"notifications has no delivery for user {uid} ({entry['email']})")
    return problems


def _subscriptions(reader: Reader, ledger: list[dict[str, Any]]) -> list[str]:
    """Each grant and decision is in subscriptions once and effective (or not) in the gateway."""
    problems = []
    admins = {
        e["account_id"]: e["email"] for e in ledger if e["kind"] == "user" and e["administrator"]
    }
    admins.update({e["account_id"]: e["admin_email"] for e in ledger if e["kind"] == "import"})
    # user → subscription id → the states it may be in
    wanted: dict[str, dict[str, tuple[str, ...]]] = defaultdict(dict)
    accounts: dict[str, str] = {}
    for entry in ledger:
        if entry["kind"] == "granted":
            for sid in entry["subscription_ids"]:
                wanted[entry["user_id"]][sid] = ("accepted",)
        elif entry["kind"] == "requested":
            wanted[entry["user_id"]][entry["subscription_id"]] = ("pending",)
        elif entry["kind"] in ("deciding", "decided"):
            # deciding: the decision was sent, its answer not seen (the load ended): either state
            decided = "accepted" if entry["decision"] == "accept" else "refused"
            wanted[entry["user_id"]][entry["subscription_id"]] = (
                ("pending", decided) if entry["kind"] == "deciding" else (decided,)
            )
        if "user_id" in entry and "account_id" in entry:
            accounts[entry["user_id"]] = entry["account_id"]
    for uid, subscriptions in wanted.items():
        path = f"/internal/users/{uid}/subscriptions"
        items = reader.all_items("subscriptions", path)
        if {sid for sid, want in subscriptions.items() if "refused" in want} - {
            i["id"] for i in items
        }:
            items = reader.all_items("subscriptions", path, status="refused")
        ids = Counter(item["id"] for item in items)
        status = {item["id"]: item["status"] for item in items}
        account = accounts[uid]
        public = reader.http.get(
            f"{reader.cluster.gateway_url}/api/v1/accounts/{account}/users/{uid}/subscriptions",
            headers=reader.admin_session(admins[account]),
        )
        if public.status_code != 200:
            problems.append(
                f"gateway: {uid}'s subscriptions: {public.status_code} {public.text[:200]}"
            )
        effective = (
            {item["id"]: item.get("effective") for item in public.json()["items"]}
            if public.status_code == 200
            else {}
        )
        for sid, want in subscriptions.items():
            if sid not in status and "refused" in want:  # the refused list of a user with both
                refused = reader.all_items("subscriptions", path, status="refused")
                ids.update(item["id"] for item in refused if item["id"] == sid)
                status.update({item["id"]: item["status"] for item in refused if item["id"] == sid})
            if ids[sid] != 1 or status.get(sid) not in want:
                problems.append(
                    f"subscriptions: {sid} of {uid} seen {ids[sid]} times, {status.get(sid)} "
                    f"(wanted once, {' or '.join(want)})"
                )
            elif (
                status[sid] == "accepted"
                and public.status_code == 200
                and effective.get(sid) is not True
            ):
                problems.append(
                    f"gateway: accepted subscription {sid} of {uid} not effective "
                    f"({effective.get(sid)})"
                )
    return problems


def _imports(reader: Reader, ledger: list[dict[str, Any]]) -> list[str]:
    problems = []
    for entry in (e for e in ledger if e["kind"] == "import"):
        deadline = time.monotonic() + MAIL_DEADLINE
        while True:
            answer = reader.service(
                "importer", f"/internal/accounts/{entry['account_id']}/imports/{entry['job_id']}"
            )
            job = answer.json() if answer.status_code == 200 else {}
            if job.get("status") in ("done", "failed") or time.monotonic() > deadline:
                break
            time.sleep(1)
        if (
            job.get("status") != "done"
            or job.get("created", 0) + job.get("rejected", 0) != entry["rows"]
        ):
            problems.append(
                f"import {entry['job_id']}: {answer.status_code} status {job.get('status')}, "
                f"{job.get('created')} created + {job.get('rejected')} rejected of {entry['rows']} rows"
            )
    return problems

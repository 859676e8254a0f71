"""The chaos test's load: locust virtual users doing the manual's journeys at once (headless).

Run as its own process (locust patches the standard library with gevent on import, which the
test process, with its threads and asyncio SMTP sink, must not get):

    python -m tests.chaos.load <config.json>

The config names the gateway URL, the operator token, the sink's mail journal (JSON lines
written by tests/chaos/cluster.py), the number of users, the stop file (the run ends when it appears) and a longest run time, the number of imports
and their rows, and where to write. Every request is appended to `requests.jsonl` (wall-clock
time, journey step, status, milliseconds); every write answered 2xx to `ledger.jsonl`, which
the invariant checker reads. Journeys of administrators: open an account and activate its
administrator; create a user who activates, signs in and asks for a service an administrator
accepts or refuses; grant services; change a user's e-mail; reset a password; import a file.
The operator announces content.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
from locust import HttpUser, between, events, task
from locust.env import Environment
from locust.exception import StopUser

from tests.chaos.people import ADMIN, NEW_PASSWORD, PASSWORD, USER

CONFIG: dict[str, Any] = {}
MAIL_WAIT = 90.0  # seconds a journey waits for its e-mail (the SMTP sink may be cut for 30 s)


class Journey(Exception):
    """A step answered something else than expected: the journey stops here."""


# --- shared files ---------------------------------------------------------------------------


class Files:
    """The mail journal (read), the request log and the ledger (appended), for every user."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.journal = Path(config["mail_journal"])
        self.requests = Path(config["requests"]).open("a", encoding="utf-8")  # noqa: SIM115
        self.ledger = Path(config["ledger"]).open("a", encoding="utf-8")  # noqa: SIM115
        self.mails: list[dict[str, Any]] = []
        self._offset = 0

    def record(self, entry: dict[str, Any]) -> None:
        self.ledger.write(json.dumps({**entry, "at": time.time()}) + "\n")
        self.ledger.flush()

    def log_request(self, line: dict[str, Any]) -> None:
        self.requests.write(json.dumps(line) + "\n")

    def _read(self) -> None:
        try:
            with self.journal.open("r", encoding="utf-8") as journal:
                journal.seek(self._offset)
                chunk = journal.read()
        except FileNotFoundError:
            return
        complete = chunk[: chunk.rfind("\n") + 1]
        self._offset += len(complete.encode("utf-8"))
        self.mails.extend(json.loads(line) for line in complete.splitlines() if line)

    def link(self, to: str, subject: str, page: str) -> str:
        """The token of the /{page}/{token} link of the e-mail to `to` (waits up to MAIL_WAIT)."""
        deadline = time.monotonic() + MAIL_WAIT
        to = to.lower()
        while time.monotonic() < deadline:
            self._read()
            for mail in self.mails:
                if to in mail["to"] and subject in mail["subject"]:
                    for link in mail["links"]:
                        if f"/{page}/" in link:
                            return link.rsplit(f"/{page}/", 1)[1].rstrip(".")
            gevent.sleep(0.5)
        raise Journey(f"no {subject!r} e-mail to {to} within {MAIL_WAIT:g}s")


FILES: Files | None = None


def files() -> Files:
    assert FILES is not None
    return FILES


def unique_email(role: str) -> str:
    return f"chaos-{role}-{uuid.uuid4().hex[:12]}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def address() -> str:
    """A client address (X-Forwarded-For, from the load balancer the gateway's proxy stands for)."""
    return f"10.{random.randint(0, 254)}.{random.randint(0, 254)}.{random.randint(1, 254)}"


def coming_from(where: str | None) -> dict[str, str]:
    return {"X-Forwarded-For": where} if where else {}


# --- the users -----------------------------------------------------------------------------


class PortalUser(HttpUser):
    """Shared steps: every request names its journey step; a wrong answer ends the journey."""

    abstract = True
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        # the gateway's proxy stands for a load balancer: each virtual user has its own address
        self.client.headers["X-Forwarded-For"] = address()

    def call(
        self, method: str, path: str, step: str, expect: tuple[int, ...], **kwargs: Any
    ) -> Any:
        response = self.client.request(method, path, name=step, **kwargs)
        if response.status_code not in expect:
            raise Journey(f"{step}: {response.status_code} {response.text[:200]}")
        return (
            response.json()
            if response.content and "json" in response.headers.get("content-type", "")
            else None
        )

    def activate(
        self, email: str, profile: dict[str, Any], step: str, where: str | None = None
    ) -> None:
        token = files().link(email, "Your account activation link", "activate")
        body = {
            **profile,
            "function": "Accountant",
            "office_phone": None,
            "mobile_phone": None,
            "password": PASSWORD,
        }
        self.call(
            "POST",
            f"/api/v1/activations/{token}",
            f"{step}: activate",
            (201,),
            json=body,
            headers=coming_from(where),
        )

    def sign_in(
        self, email: str, password: str, step: str, where: str | None = None
    ) -> dict[str, str]:
        """Sign in (from `where`, the person's own machine, else the virtual user's address);
        the headers of the session's next calls."""
        answer = self.call(
            "POST",
            "/api/v1/session",
            f"{step}: sign in",
            (201,),
            json={"email": email, "password": password},
            headers=coming_from(where),
        )
        return {**bearer(answer["token"]), **coming_from(where)}


class Administrator(PortalUser):
    """An account's administrator and the users they create."""

    weight = 4

    def on_start(self) -> None:
        super().on_start()
        operator = {"Authorization": f"Bearer {CONFIG['operator_token']}"}
        try:
            number = str(uuid.uuid4().int)[:12]
            self.account = self.call(
                "POST",
                "/api/v1/operator/accounts",
                "open account: create",
                (201,),
                json={"number": number, "name": f"Chaos {number}"},
                headers=operator,
            )
            self.email = unique_email("admin")
            admin = self.call(
                "POST",
                f"/api/v1/operator/accounts/{number}/administrators",
                "open account: administrator",
                (201,),
                json={"email": self.email, **ADMIN},
                headers=operator,
            )
            files().record(
                {
                    "kind": "user",
                    "account_id": self.account["id"],
                    "user_id": admin["id"],
                    "email": self.email,
                    "administrator": True,
                }
            )
            self.activate(self.email, ADMIN, "open account")
            files().record({"kind": "activated", "user_id": admin["id"], "email": self.email})
            self.admin = self.sign_in(self.email, PASSWORD, "open account")
            self._wait_administrator()
            self.services = self._catalog()
        except Journey as exc:
            print(f"open account stopped: {exc}", file=sys.stderr)
            raise StopUser() from None
        self.people: list[dict[str, Any]] = []  # active users of this account: email, id, password

    def _wait_administrator(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = self.call(
                "GET",
                "/api/v1/accounts",
                "open account: wait for the grant",
                (200,),
                headers=self.admin,
            )
            if any(
                item["id"] == self.account["id"] and item.get("role") == "administrator"
                for item in answer["items"]
            ):
                return
            gevent.sleep(0.3)
        raise Journey("the administration grant did not reach the gateway within 60s")

    def _catalog(self) -> dict[str, Any]:
        base = f"/api/v1/accounts/{self.account['id']}/services"
        items = self.call(
            "GET",
            base,
            "open account: catalog",
            (200,),
            headers=self.admin,
            params={"per_page": 200},
        )["items"]
        by_code = {s["code"]: s for s in items}
        grant, ask = by_code["invoice_checking"], by_code["invoice_viewing"]
        if not ask["requires_validation"]:
            self.call(
                "PATCH",
                base,
                "open account: set validation",
                (200,),
                headers=self.admin,
                json={"service_ids": [ask["id"]], "requires_validation": True},
            )
        return {"grant": grant, "ask": ask}

    @task(5)
    def new_user(self) -> None:
        """Create a user who activates, signs in and asks for a service; decide on it; grant one."""
        users = f"/api/v1/accounts/{self.account['id']}/users"
        email = unique_email("user")
        try:
            user = self.call(
                "POST",
                users,
                "new user: create",
                (201,),
                headers=self.admin,
                json={"email": email, **USER, "function": "Accountant", "password_level": 2},
            )
            files().record(
                {
                    "kind": "user",
                    "account_id": self.account["id"],
                    "user_id": user["id"],
                    "email": email,
                    "administrator": False,
                }
            )
            granted = self.call(
                "POST",
                f"{users}/{user['id']}/subscriptions",
                "new user: grant",
                (201,),
                headers=self.admin,
                json={"service_ids": [self.services["grant"]["id"]]},
            )
            files().record(
                {
                    "kind": "granted",
                    "account_id": self.account["id"],
                    "user_id": user["id"],
                    "service_id": self.services["grant"]["id"],
                    "subscription_ids": [item["id"] for item in granted["items"]],
                }
            )
            where = address()  # the new user's own machine (sign-ins are limited per address)
            self.activate(email, USER, "new user", where)
            files().record({"kind": "activated", "user_id": user["id"], "email": email})
            person = {"id": user["id"], "email": email, "password": PASSWORD, "address": where}
            self.people.append(person)
            session = self.sign_in(email, PASSWORD, "new user", where)
            ask = self.services["ask"]
            asked = self.call(
                "POST",
                "/api/v1/me/subscriptions",
                "new user: ask for a service",
                (202,),
                headers=session,
                json={"service_id": ask["id"]},
            )
            files().record(
                {
                    "kind": "requested",
                    "account_id": self.account["id"],
                    "user_id": user["id"],
                    "subscription_id": asked["id"],
                    "title": ask["title"],
                }
            )
            decision = random.choice(("accept", "refuse"))
            files().record(
                {
                    "kind": "deciding",
                    "decision": decision,
                    "account_id": self.account["id"],
                    "user_id": user["id"],
                    "subscription_id": asked["id"],
                    "title": ask["title"],
                    "email": email,
                }
            )
            self.call(
                "POST",
                f"/api/v1/accounts/{self.account['id']}/subscription-requests/{asked['id']}/"
                f"{decision}",
                f"new user: {decision}",
                (200,),
                headers=self.admin,
                json={},
            )
            files().record(
                {
                    "kind": "decided",
                    "decision": decision,
                    "account_id": self.account["id"],
                    "user_id": user["id"],
                    "subscription_id": asked["id"],
                    "title": ask["title"],
                    "email": email,
                }
            )
        except Journey as exc:
            print(f"new user stopped: {exc}", file=sys.stderr)

    @task(1)
    def change_email(self) -> None:
        """A user asks for a new address and opens the link sent there."""
        if not self.people:
            return
        person = self.people.pop(0)
        new = unique_email("moved")
        try:
            session = self.sign_in(
                person["email"], person["password"], "e-mail change", person["address"]
            )
            self.call(
                "POST",
                "/api/v1/me/email-change",
                "e-mail change: ask",
                (202,),
                headers=session,
                json={"new_email": new},
            )
            files().record(
                {
                    "kind": "email_change_asked",
                    "user_id": person["id"],
                    "old": person["email"],
                    "new": new,
                }
            )
            token = files().link(new, "Email change confirmation", "confirm-email")
            self.call(
                "POST",
                f"/api/v1/email-changes/{token}",
                "e-mail change: confirm",
                (204,),
                headers=coming_from(person["address"]),
            )
            files().record(
                {
                    "kind": "email_changed",
                    "user_id": person["id"],
                    "old": person["email"],
                    "new": new,
                }
            )
            person["email"] = new
            # read-your-writes: the new address signs in at once
            self.sign_in(new, person["password"], "e-mail change: new address", person["address"])
        except Journey as exc:
            print(f"e-mail change stopped: {exc}", file=sys.stderr)
        self.people.append(person)

    @task(1)
    def reset_password(self) -> None:
        """A user who forgot the password asks for a link and sets a new one (once per user)."""
        candidates = [p for p in self.people if p["password"] == PASSWORD]
        if not candidates:
            return
        person = candidates[0]
        try:
            self.call(
                "POST",
                "/api/v1/password-resets",
                "password reset: ask",
                (202,),
                json={"email": person["email"]},
                headers=coming_from(person["address"]),
            )
            files().record(
                {"kind": "reset_asked", "user_id": person["id"], "email": person["email"]}
            )
            person["password"] = None  # asked: not asked again
            token = files().link(person["email"], "Reset your password", "reset-password")
            self.call(
                "POST",
                f"/api/v1/password-resets/{token}",
                "password reset: set",
                (204,),
                json={"password": NEW_PASSWORD},
                headers=coming_from(person["address"]),
            )
            person["password"] = NEW_PASSWORD
            self.sign_in(person["email"], NEW_PASSWORD, "password reset", person["address"])
        except Journey as exc:
            print(f"password reset stopped: {exc}", file=sys.stderr)

    @task(1)
    def import_users(self) -> None:
        """Import a file of a few hundred rows (as many imports as the run allows in all)."""
        if CONFIG["imports_left"] <= 0:
            return
        CONFIG["imports_left"] -= 1
        tag = uuid.uuid4().hex[:8]
        emails = [f"chaos-imported-{tag}-{n}@example.com" for n in range(CONFIG["import_rows"])]
        lines = [
            "Civility;Last name;First name;Email address;Phone;Mobile;Language code;Security level"
        ]
        lines += [f"MME;Hopper{n};Grace;{email};;;en-US;1" for n, email in enumerate(emails)]
        body = ("\r\n".join(lines) + "\r\n").encode()
        try:
            job = self.call(
                "POST",
                f"/api/v1/accounts/{self.account['id']}/imports",
                "import: upload",
                (202,),
                headers=self.admin,
                files={"file": (f"chaos-{tag}.csv", body, "text/csv")},
            )
            files().record(
                {
                    "kind": "import",
                    "account_id": self.account["id"],
                    "job_id": job["id"],
                    "rows": len(emails),
                    "emails": emails,
                    "admin_email": self.email,
                    "file": f"chaos-{tag}.csv",
                }
            )
        except Journey as exc:
            print(f"import stopped: {exc}", file=sys.stderr)


class Operator(PortalUser):
    """The vendor's staff announcing content."""

    weight = 1
    wait_time = between(3.0, 6.0)

    @task
    def announce(self) -> None:
        operator = {"Authorization": f"Bearer {CONFIG['operator_token']}"}
        title = f"Chaos news {uuid.uuid4().hex[:8]}"
        try:
            self.call(
                "POST",
                "/api/v1/operator/content",
                "content: announce",
                (202,),
                headers=operator,
                json={"kind": "updates", "title": title, "url": "https://example.com/news"},
            )
            files().record({"kind": "content", "title": title})
        except Journey as exc:
            print(f"announce stopped: {exc}", file=sys.stderr)


# --- running it ---------------------------------------------------------------------------


def main(config_path: str) -> int:
    global FILES
    CONFIG.update(json.loads(Path(config_path).read_text()))
    CONFIG["imports_left"] = CONFIG["imports"]
    random.seed(CONFIG["seed"])
    FILES = Files(CONFIG)

    stopping = threading.Event()  # requests broken off by the stop are not logged

    @events.request.add_listener
    def log(
        request_type: str,
        name: str,
        response_time: float,
        response: Any = None,
        exception: Exception | None = None,
        **_: Any,
    ) -> None:
        if stopping.is_set():  # cut short by the stop: no answer of the portal's
            return
        status = (
            getattr(response, "status_code", 0) if exception is None or response is not None else 0
        )
        files().log_request(
            {
                "t": time.time(),
                "step": name,
                "method": request_type,
                "status": int(status or 0),
                "ms": response_time,
            }
        )

    Administrator.host = Operator.host = CONFIG["gateway_url"]
    env = Environment(user_classes=[Administrator, Operator], events=events)
    runner = env.create_local_runner()
    runner.start(CONFIG["users"], spawn_rate=CONFIG.get("spawn_rate", 2))
    stop = Path(CONFIG["stop_file"])
    deadline = time.monotonic() + CONFIG["max_seconds"]

    def stop_when_told() -> None:  # the test writes the stop file when its schedule is over
        while not stop.exists() and time.monotonic() < deadline:
            gevent.sleep(0.5)
        stopping.set()
        runner.quit()

    gevent.spawn(stop_when_told)
    runner.greenlet.join()
    files().requests.close()
    files().ledger.close()
    print(
        f"locust: {env.stats.total.num_requests} requests, {env.stats.total.num_failures} failures"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

"""The real portal in one process for the security tests: every service, SQLite, memory bus, demo data.

`start_portal(tmp_path, prefix)` builds and starts the embedded mode as `portico run` does and loads
the demo through the gateway's own API; `Portal` signs in its demo people and the operator.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portico import demo
from portico.runtime import Embedded


@dataclass
class Portal:
    embedded: Embedded

    @property
    def app(self) -> Any:
        return self.embedded.gateway

    @property
    def client(self) -> Any:
        return self.embedded.gateway.test_client()

    @property
    def operator(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.embedded.parts['gateway'].settings.operator_token}"}

    def sign_in(self, email: str, password: str = demo.PASSWORD) -> dict[str, str]:
        answer = self.client.post("/api/v1/session", json={"email": email, "password": password})
        assert answer.status_code == 201, answer.get_json()
        return {"Authorization": f"Bearer {answer.get_json()['token']}"}

    def admin(self) -> dict[str, str]:
        """Claire, administrator of the demo's parent account (and supervisor of its shop)."""
        return self.sign_in(demo.ADMINS[demo.PARENT["number"]]["email"])

    def user(self) -> dict[str, str]:
        """Sophie, an active user of the parent account who administers nothing."""
        return self.sign_in(demo.USERS[0][0]["email"])

    def accounts(self, headers: dict[str, str]) -> dict[str, str]:
        """{client number: account id} of the accounts these credentials administer."""
        items = self.client.get("/api/v1/accounts", headers=headers).get_json()["items"]
        return {item["number"]: item["id"] for item in items}

    def stop(self) -> None:
        self.embedded.stop.set()


def start_portal(
    data_dir: Path, prefix: str, *, with_demo: bool = True, env: dict[str, str] | None = None
) -> Portal:
    embedded = Embedded(data_dir, {"PORTICO_BUS_PREFIX": prefix, **(env or {})}).build().start()
    portal = Portal(embedded)
    if with_demo:
        out = io.StringIO()
        if not demo.load_once(embedded, out, timeout=60.0):
            portal.stop()
            raise AssertionError(f"the demo did not load:\n{out.getvalue()}")
    return portal

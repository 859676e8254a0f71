"""The identity service seen from the importer: which addresses the portal already uses."""

from __future__ import annotations

from collections.abc import Sequence

from bus.http_client import ServiceClient
from services.importer.config import TAKEN_QUERY_MAX


class IdentityUnavailable(Exception):
    """The portal-wide check cannot be made now (identity unreachable or not configured)."""


class TakenEmails:
    """POST /internal/emails/taken, at most TAKEN_QUERY_MAX addresses per call."""

    def __init__(self, client: ServiceClient | None) -> None:
        self.client = client

    def taken(self, emails: Sequence[str]) -> set[str]:
        """The addresses among `emails` that a user of the portal already has."""
        if not emails:
            return set()
        if self.client is None:
            raise IdentityUnavailable(
                "the identity service's address is not configured (set PORTICO_IDENTITY_URL)"
            )
        found: set[str] = set()
        for start in range(0, len(emails), TAKEN_QUERY_MAX):
            chunk = list(emails[start : start + TAKEN_QUERY_MAX])
            try:
                answer = self.client.post("/internal/emails/taken", json={"emails": chunk})
            except Exception as exc:  # noqa: BLE001 - outage or refusal: the check waits
                raise IdentityUnavailable(str(exc)) from exc
            found.update(email.lower() for email in (answer or {}).get("taken", []))
        return found

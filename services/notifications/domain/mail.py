"""Plain values and rules of outgoing mail: recipients, stable Message-IDs, the import report
CSV, and the links a person would click in an e-mail."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bus.i18n import text_in

# Statuses of a recipient that can be written to at all.
REACHABLE = ("pending_activation", "active", "locked", "unknown")

REPORT_HEADER = ("line", "field", "message")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_LINK = re.compile(r"https?://[^\s<>\"“”«»]+")


@dataclass(frozen=True)
class Recipient:
    """Someone an e-mail goes to: an address, and how to greet them in which language."""

    address: str
    name: str | None = None
    language: str | None = None
    user_id: str | None = None

    @property
    def key(self) -> str:
        return self.address.strip().lower()


def full_name(first_name: str | None, last_name: str | None) -> str | None:
    """'Steven MARKS' from the parts that are there; None when there are none."""
    name = " ".join(part.strip() for part in (first_name, last_name) if part and part.strip())
    return name or None


def message_key(event_id: str, template: str, address: str) -> str:
    """The bare Message-ID of one e-mail: the event id, then a digest of template and address.

    The same event always yields the same ids, so a receiver can drop a copy sent twice.
    """
    digest = hashlib.sha256(f"{template}\n{address.strip().lower()}".encode()).hexdigest()[:12]
    return f"{event_id}.{digest}"


def neutralise_cell(value: object) -> str:
    """The cell as text, prefixed with ' when a spreadsheet could take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def anomaly_text(anomaly: Mapping[str, Any], language: str | None = None) -> Any:
    """The anomaly's message in `language` (a user's, "fr-FR"): its text in that language
    from `messages` (importer.import.finished carries each in every language the portal
    speaks), else the English `message` (an anomaly stored before anomalies had languages)."""
    return text_in(anomaly.get("messages"), language) or anomaly.get("message")


def reason_text(finished: Mapping[str, Any], language: str | None = None) -> Any:
    """A failed import's reason in `language`: from `reason_messages` (importer.import.finished
    carries it in every language the portal speaks), else the English `reason` (an event or a
    job from before reasons had languages); None when the import did not fail."""
    return text_in(finished.get("reason_messages"), language) or finished.get("reason")


def anomalies_by_line(
    anomalies: Iterable[Mapping[str, Any]], language: str | None = None
) -> list[dict[str, Any]]:
    """Every anomaly as {line, field, message}, in line order (those without a line last),
    the message in `language` (anomaly_text)."""
    rows = [
        {
            "line": item.get("line"),
            "field": item.get("field"),
            "message": anomaly_text(item, language),
        }
        for item in anomalies
    ]
    return sorted(rows, key=lambda row: (not isinstance(row["line"], int), row["line"] or 0))


def report_csv(anomalies: Iterable[Mapping[str, Any]]) -> str:
    """The import report: `line;field;message`, CRLF, UTF-8 BOM, safe to open in a spreadsheet."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", quotechar='"', lineterminator="\r\n")
    writer.writerow(REPORT_HEADER)
    for row in anomalies_by_line(anomalies):
        writer.writerow([neutralise_cell(row[name]) for name in REPORT_HEADER])
    return out.getvalue()


def find_links(text: str) -> list[str]:
    """The http(s) links of a text e-mail, once each, in order, without trailing punctuation."""
    links: list[str] = []
    for match in _LINK.finditer(text):
        link = match.group(0).rstrip(".,;:!?)]'")
        if link not in links:
            links.append(link)
    return links


def json_safe(value: Any) -> Any:
    """Dates as ISO 8601 strings, so a context can be stored as JSON and rendered later."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


# Subscriptions given when a user is created: the new user hears of them through the activation
# e-mail and "My services", not through one e-mail per service.
CREATION_CAUSES = ("auto_subscribe", "administration_grant")


def acceptance_template(data: Mapping[str, Any]) -> str | None:
    """Which e-mail tells a subscriber their subscription is accepted (None: no e-mail).

    `request_accepted` when an administrator accepted a pending request; `subscription_accepted`
    when it was accepted at once (a request without validation, or a direct grant). Producers
    that do not say why (`cause`) are read from the instants: never requested, or decided the
    moment it was requested, means it was never pending.
    """
    cause = data.get("cause")
    if cause in CREATION_CAUSES:
        return None
    if cause == "decision":
        return "request_accepted"
    if cause in ("request", "grant") or data.get("granted_directly"):
        return "subscription_accepted"
    requested, decided = data.get("requested_at"), data.get("decided_at")
    if requested and decided and requested != decided:
        return "request_accepted"
    return "subscription_accepted"

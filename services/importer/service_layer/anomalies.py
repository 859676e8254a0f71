"""An anomaly the importer found, made ready to keep: its stable code, its params and its text
in every language the portal speaks, from the importer's own catalog (bus.i18n); a failed
job's reason the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bus.i18n import translated
from services.importer.domain import Anomaly
from services.importer.domain.model import UNCODED, UNCODED_REASON

_IMPORTER_DIR = Path(__file__).resolve().parents[1]


def in_every_language_of_the_portal(anomaly: Anomaly) -> Anomaly:
    """`anomaly` with `code`, `params` and `messages` (unchanged when it has its messages: one
    that identity reported comes with identity's)."""
    if anomaly.messages:
        return anomaly
    kept = translated(anomaly.message, _IMPORTER_DIR, UNCODED)
    return anomaly._replace(
        message=str(anomaly.message),
        code=anomaly.code or kept["code"],
        params=anomaly.params if anomaly.params is not None else kept["params"],
        messages=kept["messages"],
    )


def reason_in_every_language(reason: str) -> dict[str, Any]:
    """A failed job's columns for `reason` (a bus.i18n.Message, or plain English text): the
    English text, its stable code (import.failed when it has none), its params and its text
    in every language, from the importer's catalog."""
    kept = translated(reason, _IMPORTER_DIR, UNCODED_REASON)
    return {
        "reason": str(reason)[:4000],
        "reason_code": kept["code"],
        "reason_params": kept["params"],
        "reason_messages": {lang: text[:4000] for lang, text in kept["messages"].items()},
    }

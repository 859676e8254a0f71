"""An anomaly the importer found, made ready to keep: its stable code, its params and its text
in every language the portal speaks, from the importer's own catalog (bus.i18n)."""

from __future__ import annotations

from pathlib import Path

from bus.i18n import code_of, in_every_language, plain_params
from services.importer.domain import Anomaly
from services.importer.domain.model import UNCODED

_IMPORTER_DIR = Path(__file__).resolve().parents[1]


def in_every_language_of_the_portal(anomaly: Anomaly) -> Anomaly:
    """`anomaly` with `code`, `params` and `messages` (unchanged when it has its messages: one
    that identity reported comes with identity's)."""
    if anomaly.messages:
        return anomaly
    message = anomaly.message
    return anomaly._replace(
        message=str(message),
        code=anomaly.code or code_of(message) or UNCODED,
        params=anomaly.params if anomaly.params is not None else plain_params(message),
        messages=in_every_language(message, _IMPORTER_DIR),
    )

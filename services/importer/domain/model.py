"""What the import domain hands back: row results, anomalies and the file-level rejection."""

from __future__ import annotations

from typing import Any, NamedTuple

# Column order of an import file, by the name used in anomalies.
COLUMNS = (
    "civility",
    "last_name",
    "first_name",
    "email",
    "phone",
    "mobile",
    "language",
    "password_level",
)
# Anomaly field for problems that concern the whole line rather than one column.
LINE = "line"


class Anomaly(NamedTuple):
    """One problem found in the file: physical line number (1-based), field, person-facing text."""

    line: int
    field: str
    message: str


class RowResult(NamedTuple):
    """One data line: its values for the identity service when valid, else its anomalies."""

    line: int
    values: dict[str, Any] | None
    anomalies: list[Anomaly]

    @property
    def ok(self) -> bool:
        return self.values is not None


class FileRejected(Exception):
    """The file as a whole cannot be imported; nothing in it is imported.

    `messages` are written for the person who uploaded the file (what is wrong, what to do);
    `code` is a stable machine-readable reason for the API (e.g. "extension", "too_large").
    """

    def __init__(self, code: str, *messages: str) -> None:
        super().__init__(" ".join(messages))
        self.code = code
        self.messages = list(messages)

"""What the import domain hands back: row results, anomalies and the file-level rejection."""

from __future__ import annotations

from typing import Any, NamedTuple

from bus.i18n import text_in

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


# The code of an anomaly recorded before anomalies had codes (English text only).
UNCODED = "import.anomaly"


# The code of a failed job's reason stored before reasons had codes (English text only).
UNCODED_REASON = "import.failed"


def reason_view(job: Any, language: str | None = None) -> dict[str, Any]:
    """A job's reason as the API shows it: `reason` in `language` (en or fr; English when the
    job failed before reasons had languages), `reason_code` and `reason_params`; all None for
    a job that did not fail. `job` has the columns reason, reason_code, reason_params and
    reason_messages."""
    if job.reason is None:
        return {"reason": None, "reason_code": None, "reason_params": None}
    return {
        "reason": text_in(job.reason_messages, language) or job.reason,
        "reason_code": job.reason_code or UNCODED_REASON,
        "reason_params": job.reason_params or {},
    }


class Anomaly(NamedTuple):
    """One problem found in the file: physical line number (1-based), field, person-facing text.

    `message` is the English text: a bus.i18n.Message (with its code and params) when the
    importer found it, plain text when read back or reported by identity. `code`, `params` and
    `messages` (the text in every language, {"en": ..., "fr": ...}) are filled in when the
    anomaly is stored (identity sends them with the lines it refuses); an anomaly stored before
    they existed has none of them and reads in English.
    """

    line: int
    field: str
    message: str
    code: str | None = None
    params: dict[str, Any] | None = None
    messages: dict[str, str] | None = None

    def text(self, language: str | None = None) -> str:
        """The message in `language` (en or fr), in English when it has no such text."""
        return text_in(self.messages, language) or str(self.message)

    def view(self, language: str | None = None) -> dict[str, Any]:
        """The anomaly as the API shows it: the message in `language`, its code and params."""
        return {
            "line": self.line,
            "field": self.field,
            "message": self.text(language),
            "code": self.code or UNCODED,
            "params": self.params or {},
        }

    def event(self) -> dict[str, Any]:
        """The anomaly as importer.import.finished carries it: every language, for the
        recipient's (the English `message` alone when it was stored before languages)."""
        entry = {**self.view(), "message": str(self.message)}
        if self.messages:
            entry["messages"] = dict(self.messages)
        return entry


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

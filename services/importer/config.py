"""The importer service's settings, read once from the part's Settings (see README.md)."""

from __future__ import annotations

from dataclasses import dataclass

from bus.config import ConfigError, Settings
from services.importer.domain import DEFAULT_MAX_BYTES

# identity's POST /internal/emails/taken answers at most this many addresses per call.
TAKEN_QUERY_MAX = 1000


@dataclass(frozen=True)
class ImporterConfig:
    """How big a file may be, how rows travel to identity, and how job runners share work."""

    max_bytes: int = DEFAULT_MAX_BYTES
    batch_size: int = 500
    lease_seconds: int = 30
    poll_seconds: float = 2.0
    max_attempts: int = 5
    runners: int = 1
    event_anomalies: int = 1000
    answer_timeout_seconds: int = 3600
    public_url: str = "http://127.0.0.1:8000"

    def __post_init__(self) -> None:
        for name, low in (
            ("max_bytes", 1),
            ("batch_size", 1),
            ("lease_seconds", 2),
            ("max_attempts", 1),
            ("runners", 0),
            ("event_anomalies", 0),
            ("answer_timeout_seconds", 1),
        ):
            if getattr(self, name) < low:
                raise ConfigError(f"the importer setting {name} must be at least {low}")
        if self.poll_seconds <= 0:
            raise ConfigError("PORTICO_IMPORT_POLL_SECONDS must be more than 0")

    @classmethod
    def from_settings(cls, settings: Settings) -> ImporterConfig:
        poll = settings.setting("PORTICO_IMPORT_POLL_SECONDS", "2")
        try:
            poll_seconds = float(poll)
        except ValueError:
            raise ConfigError(f"PORTICO_IMPORT_POLL_SECONDS={poll!r} must be a number") from None
        return cls(
            max_bytes=settings.int_setting("PORTICO_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES),
            batch_size=settings.int_setting("PORTICO_IMPORT_BATCH_SIZE", 500),
            lease_seconds=settings.int_setting("PORTICO_IMPORT_LEASE_SECONDS", 30),
            poll_seconds=poll_seconds,
            max_attempts=settings.int_setting("PORTICO_IMPORT_MAX_ATTEMPTS", 5),
            runners=settings.int_setting("PORTICO_IMPORT_RUNNERS", 1),
            event_anomalies=settings.int_setting("PORTICO_IMPORT_EVENT_ANOMALIES", 1000),
            answer_timeout_seconds=settings.int_setting(
                "PORTICO_IMPORT_ANSWER_TIMEOUT_SECONDS", 3600
            ),
            public_url=settings.public_url.rstrip("/"),
        )

    def report_url(self, account_id: str, job_id: str) -> str:
        """Where the anomaly report can be downloaded through the gateway (docs/api.md)."""
        return f"{self.public_url}/api/v1/accounts/{account_id}/imports/{job_id}/report.csv"

"""The notifications service's settings, read once from the part's Settings (environment)."""

from __future__ import annotations

from dataclasses import dataclass

from bus.config import ConfigError, Settings


@dataclass(frozen=True)
class MailConfig:
    """Where and how e-mails leave: SMTP (or the built-in mailbox), pacing and retries."""

    smtp_url: str | None
    mail_from: str
    public_url: str
    poll_seconds: float = 1.0
    batch_size: int = 100
    connections: int = 4  # SMTP connections of one delivery loop, each sending on its own thread
    max_attempts: int = 8
    retry_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    lease_seconds: float = 300.0
    mark_every_seconds: float = 0.5
    keep_days: int = 90  # the delivery log and the mailbox; 0 keeps them forever

    @classmethod
    def from_settings(cls, settings: Settings) -> MailConfig:
        return cls(
            smtp_url=settings.smtp_url,
            mail_from=settings.mail_from,
            public_url=settings.public_url.rstrip("/"),
            poll_seconds=_positive(settings, "PORTICO_MAIL_POLL_SECONDS", 1.0),
            batch_size=int(_positive(settings, "PORTICO_MAIL_BATCH_SIZE", 100)),
            connections=_whole(settings, "PORTICO_MAIL_CONNECTIONS", 4),
            max_attempts=int(_positive(settings, "PORTICO_MAIL_MAX_ATTEMPTS", 8)),
            retry_seconds=_positive(settings, "PORTICO_MAIL_RETRY_SECONDS", 60.0),
            retry_max_seconds=_positive(settings, "PORTICO_MAIL_RETRY_MAX_SECONDS", 3600.0),
            lease_seconds=_positive(settings, "PORTICO_MAIL_LEASE_SECONDS", 300.0),
            keep_days=settings.days_setting("PORTICO_MAIL_KEEP_DAYS", 90),
        )

    @property
    def uses_mailbox(self) -> bool:
        """No SMTP server configured: e-mails are kept in the built-in mailbox."""
        return not self.smtp_url

    @property
    def validation_url(self) -> str:
        """The gateway's page where administrators accept or refuse requests."""
        return f"{self.public_url}/validation"

    def backoff_seconds(self, attempts: int) -> float:
        """Wait before attempt `attempts + 1`: retry_seconds doubled per failure, capped."""
        return min(self.retry_seconds * 2 ** max(0, attempts - 1), self.retry_max_seconds)


def _positive(settings: Settings, name: str, default: float) -> float:
    raw = settings.setting(name, "")
    if raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ConfigError(f"{name}={raw!r} must be a positive number")
    return value


def _whole(settings: Settings, name: str, default: int) -> int:
    raw = settings.setting(name, "")
    if raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name}={raw!r} must be a whole number, 1 or more")
    return value

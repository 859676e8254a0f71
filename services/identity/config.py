"""The identity service's settings, read once from the part's Settings (see README.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from bus.config import ConfigError, Settings
from services.identity.domain.lockout import DEFAULT_LOCK_MINUTES, DEFAULT_LOCK_THRESHOLD
from services.identity.domain.mfa import MfaKey
from services.identity.domain.passwords import PROFILES


@dataclass(frozen=True)
class IdentityConfig:
    public_url: str = "http://127.0.0.1:8000"
    password_profile: str = "classic"
    activation_days: int = 7
    reset_minutes: int = 60
    email_change_hours: int = 24
    lock_threshold: int = DEFAULT_LOCK_THRESHOLD
    lock_minutes: int = DEFAULT_LOCK_MINUTES
    reset_mail_interval_minutes: int = 5
    history_kept: int = 24
    # Argon2 computations at once per process (a serving worker); 0: no limit
    hash_concurrency: int = 0
    # PORTICO_MFA_KEY, or (unset) the service token: the key of TOTP secrets and recovery codes
    mfa_secret: str = "dev-mfa-key"
    lifetimes: Mapping[str, timedelta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.password_profile not in PROFILES:
            raise ConfigError(
                f"PORTICO_PASSWORD_PROFILE={self.password_profile!r} is not a profile; "
                f"write one of {', '.join(sorted(PROFILES))}"
            )
        for name in (
            "activation_days",
            "reset_minutes",
            "email_change_hours",
            "lock_threshold",
            "lock_minutes",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"the identity setting {name} must be at least 1")
        if self.hash_concurrency < 0:
            raise ConfigError(
                "PORTICO_HASH_CONCURRENCY must be 0 (no limit) or the number of Argon2 hashes"
                " one process computes at once (1 or more)"
            )
        object.__setattr__(
            self,
            "lifetimes",
            {
                "activation": timedelta(days=self.activation_days),
                "reset": timedelta(minutes=self.reset_minutes),
                "email_change": timedelta(hours=self.email_change_hours),
            },
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityConfig:
        return cls(
            public_url=settings.public_url.rstrip("/"),
            password_profile=settings.setting("PORTICO_PASSWORD_PROFILE", "classic"),
            activation_days=settings.int_setting("PORTICO_ACTIVATION_DAYS", 7),
            reset_minutes=settings.int_setting("PORTICO_RESET_MINUTES", 60),
            email_change_hours=settings.int_setting("PORTICO_EMAIL_CHANGE_HOURS", 24),
            lock_threshold=settings.int_setting("PORTICO_LOCK_THRESHOLD", DEFAULT_LOCK_THRESHOLD),
            lock_minutes=settings.int_setting("PORTICO_LOCK_MINUTES", DEFAULT_LOCK_MINUTES),
            reset_mail_interval_minutes=settings.int_setting(
                "PORTICO_RESET_MAIL_INTERVAL_MINUTES", 5
            ),
            hash_concurrency=settings.int_setting("PORTICO_HASH_CONCURRENCY", 0),
            mfa_secret=settings.setting("PORTICO_MFA_KEY", "")
            or f"service-token:{settings.service_token}",
        )

    @property
    def mfa_key(self) -> MfaKey:
        return MfaKey(self.mfa_secret)

    @property
    def webauthn_origin(self) -> str:
        """Where passkeys are used: the origin of PORTICO_PUBLIC_URL."""
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def webauthn_rp_id(self) -> str:
        """The WebAuthn relying party id: the host of PORTICO_PUBLIC_URL."""
        return urlsplit(self.public_url).hostname or "localhost"

    def link_url(self, purpose: str, token: str) -> str:
        """The gateway page a link opens (docs/api.md, "Journeys")."""
        page = {
            "activation": "activate",
            "reset": "reset-password",
            "email_change": "confirm-email",
        }
        return f"{self.public_url}/{page[purpose]}/{token}"

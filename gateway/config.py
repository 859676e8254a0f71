"""The gateway's own settings, read from PORTICO_* variables (see README.md, "Settings")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bus.config import ConfigError, Settings
from gateway.domain.oidc import ProviderPolicy
from gateway.domain.ratelimit import Limit, LimitError
from gateway.domain.sessions import SessionPolicy


@dataclass(frozen=True)
class GatewayConfig:
    sessions: SessionPolicy
    dashboard_timeout: float
    max_body_bytes: int
    max_upload_bytes: int
    sign_in_per_ip: Limit
    sign_in_per_email: Limit
    reset_per_ip: Limit
    reset_per_email: Limit
    secure_cookies: bool
    proxy_count: int
    profile_cache_ttl: timedelta = timedelta(seconds=30)
    address_taken_per_caller: Limit = Limit(10, 900)
    own_events_wait: float = (
        2.0  # read-your-writes across services: the longest wait before forwarding
    )
    oidc: ProviderPolicy = ProviderPolicy()  # the OpenID Connect provider's lifetimes

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayConfig:
        def limit(name: str, default: str) -> Limit:
            try:
                return Limit.parse(settings.setting(name, default), name)
            except LimitError as exc:
                raise ConfigError(str(exc)) from None

        def seconds(name: str, default: str) -> float:
            text = settings.setting(name, default)
            try:
                value = float(text)
            except ValueError:
                raise ConfigError(f"{name}={text!r} must be a number of seconds") from None
            if not 0 <= value <= 60:
                raise ConfigError(f"{name}={text!r} must be between 0 and 60 seconds")
            return value

        timeout_text = settings.setting("PORTICO_DASHBOARD_TIMEOUT_SECONDS", "2")
        try:
            timeout = float(timeout_text)
        except ValueError:
            raise ConfigError(
                f"PORTICO_DASHBOARD_TIMEOUT_SECONDS={timeout_text!r} must be a number"
            ) from None
        return cls(
            sessions=SessionPolicy(
                idle=timedelta(minutes=settings.int_setting("PORTICO_SESSION_IDLE_MINUTES", 30)),
                lifetime=timedelta(
                    hours=settings.int_setting("PORTICO_SESSION_LIFETIME_HOURS", 12)
                ),
            ),
            dashboard_timeout=timeout,
            max_body_bytes=settings.int_setting("PORTICO_MAX_BODY_BYTES", 1024 * 1024),
            max_upload_bytes=settings.int_setting("PORTICO_MAX_UPLOAD_BYTES", 25 * 1024 * 1024),
            sign_in_per_ip=limit("PORTICO_RATE_SIGN_IN_PER_IP", "20/60"),
            sign_in_per_email=limit("PORTICO_RATE_SIGN_IN_PER_EMAIL", "10/60"),
            reset_per_ip=limit("PORTICO_RATE_RESET_PER_IP", "20/900"),
            reset_per_email=limit("PORTICO_RATE_RESET_PER_EMAIL", "5/900"),
            secure_cookies=settings.public_url.startswith("https://"),
            proxy_count=settings.int_setting("PORTICO_PROXY_COUNT", 0),
            profile_cache_ttl=timedelta(
                seconds=max(0, settings.int_setting("PORTICO_PROFILE_CACHE_SECONDS", 30))
            ),
            address_taken_per_caller=limit("PORTICO_RATE_ADDRESS_TAKEN_PER_CALLER", "10/900"),
            own_events_wait=seconds("PORTICO_OWN_EVENTS_WAIT_SECONDS", "5"),
            oidc=ProviderPolicy(
                access_token=timedelta(
                    seconds=settings.int_setting("PORTICO_OIDC_ACCESS_TOKEN_SECONDS", 600)
                ),
                id_token=timedelta(
                    seconds=settings.int_setting("PORTICO_OIDC_ID_TOKEN_SECONDS", 600)
                ),
                refresh_token=timedelta(
                    days=settings.int_setting("PORTICO_OIDC_REFRESH_TOKEN_DAYS", 30)
                ),
            ),
        )

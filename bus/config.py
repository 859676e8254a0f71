"""Settings every part reads from the environment (README.md, "Distributed mode"; deploy/README.md)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# The parts of Portico, the one list of them (the launcher, the settings, the gateway's clients).
SERVICES = ("identity", "subscriptions", "notifications", "importer")
PARTS = (*SERVICES, "gateway")
BROKER_SCHEMES = ("amqp", "amqps", "pyamqp", "memory")


class ConfigError(ValueError):
    """A setting that cannot work; the message names the variable and what to write instead."""


@dataclass(frozen=True)
class Settings:
    """The configuration of one part (or, in the embedded mode, of every part)."""

    part: str
    broker_url: str = "memory://"
    database_url: str = ""
    data_dir: Path = Path("var")
    bus_prefix: str = "portico"
    max_attempts: int = 5
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str = "dev-secret-change-me"
    operator_token: str = "dev-operator-token"
    service_token: str = "dev-service-token"
    smtp_url: str | None = None
    mail_from: str = "administrateur@portico.local"
    service_urls: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(
        cls,
        part: str,
        env: Mapping[str, str] | None = None,
        *,
        data_dir: str | Path | None = None,
    ) -> Settings:
        env = os.environ if env is None else env
        if part not in PARTS:
            raise ConfigError(f"unknown part {part!r}; choose one of {', '.join(PARTS)}")
        folder = Path(data_dir or env.get("PORTICO_DATA_DIR", "var"))
        db_var = f"PORTICO_{part.upper()}_DATABASE_URL"
        database_url = env.get(db_var) or f"sqlite:///{folder / (part + '.db')}"
        broker_url = env.get("PORTICO_BROKER_URL", "memory://")
        check_database_url(db_var, database_url)
        check_broker_url("PORTICO_BROKER_URL", broker_url)
        urls = {
            name: env[f"PORTICO_{name.upper()}_URL"]
            for name in PARTS
            if env.get(f"PORTICO_{name.upper()}_URL")
        }
        return cls(
            part=part,
            broker_url=broker_url,
            database_url=database_url,
            data_dir=folder,
            bus_prefix=env.get("PORTICO_BUS_PREFIX", "portico"),
            max_attempts=_int(env, "PORTICO_MAX_ATTEMPTS", 5),
            public_url=env.get("PORTICO_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            secret_key=env.get("PORTICO_SECRET_KEY", "dev-secret-change-me"),
            operator_token=env.get("PORTICO_OPERATOR_TOKEN", "dev-operator-token"),
            service_token=env.get("PORTICO_SERVICE_TOKEN", "dev-service-token"),
            smtp_url=env.get("PORTICO_SMTP_URL") or None,
            mail_from=env.get("PORTICO_MAIL_FROM", "administrateur@portico.local"),
            service_urls=urls,
            extra={k: val for k, val in env.items() if k.startswith("PORTICO_")},
        )

    def setting(self, name: str, default: str) -> str:
        """A part-specific optional setting, e.g. PORTICO_IDENTITY_LOCK_MINUTES."""
        return self.extra.get(name, default)

    def int_setting(self, name: str, default: int) -> int:
        return _int(self.extra, name, default)

    def days_setting(self, name: str, default: int) -> int:
        """A number of days to keep something; 0 keeps it forever, a negative number is refused."""
        days = self.int_setting(name, default)
        if days < 0:
            raise ConfigError(
                f"{name}={days} cannot be negative; write a number of days, or 0 to keep everything"
            )
        return days


def masked(url: str) -> str:
    """The URL without its password, fit for a log line or an error message."""
    scheme, sep, rest = url.rpartition("://") if "://" in url else ("", "", url)
    return scheme + sep + re.sub(r"^([^:/@\s]*:)\S*@", r"\1***@", rest)


def check_database_url(var: str, url: str) -> None:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"{var}={masked(url)!r} is not a database URL; write e.g. "
            "postgresql+psycopg://user@host:5432/name or sqlite:///var/part.db"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"{var} uses {parsed.get_backend_name()!r}; Portico runs on PostgreSQL or SQLite"
        )


def check_broker_url(var: str, url: str) -> None:
    scheme = urlparse(url).scheme
    if scheme not in BROKER_SCHEMES:
        raise ConfigError(
            f"{var}={masked(url)!r} is not a broker URL; write amqp://user:password@host:5672// "
            "for RabbitMQ or memory:// for the in-process bus"
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} must be a whole number") from None

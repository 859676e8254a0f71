"""Start-up checks: a part whose database or broker cannot be reached says which setting is wrong."""

from __future__ import annotations

from collections.abc import Iterable

from bus.config import ConfigError
from bus.db import check_database
from bus.part import Part


def check(parts: Iterable[Part], *, broker: bool = True) -> None:
    for part in parts:
        var = f"PORTICO_{part.name.upper()}_DATABASE_URL"
        try:
            check_database(part.engine)
        except Exception as exc:  # noqa: BLE001 - turned into a message for the operator
            raise ConfigError(f"{var}: the database cannot be reached ({_short(exc)})") from None
        if broker:
            try:
                part.broker.check()
            except Exception as exc:  # noqa: BLE001
                raise ConfigError(
                    f"PORTICO_BROKER_URL: the broker cannot be reached ({_short(exc)})"
                ) from None


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__

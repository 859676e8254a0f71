"""Wait until one part's database (and broker) answer: the "wait" of the container entrypoint.

Usage: python wait_for_dependencies.py <serve|worker|migrate> <part>

Exits 0 as soon as they answer (`migrate` needs only the database). Exits 2 at once when a
setting is malformed or a secret is weak (`serve` and `worker` would refuse it), since waiting
will not fix it, and 1 when a dependency still does not
answer after PORTICO_WAIT_TIMEOUT seconds (default 60); both messages name the setting to check.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from urllib.parse import urlparse

PROG = "portico-entrypoint"
CREDENTIALS = re.compile(r"([\w.+-]+:)[^@\s'\"/]+@")  # user:password@ in a URL
DEFAULT_TIMEOUT = 60.0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("serve", "worker", "migrate"):
        say("usage: wait_for_dependencies.py <serve|worker|migrate> <part>")
        return 2
    mode, part = args
    try:
        checks = dependencies(mode, part)
        timeout = wait_timeout()
    except Exception as exc:  # noqa: BLE001 - a malformed setting: say which, do not wait
        say(f"configuration error: {exc}")
        return 2
    deadline = time.monotonic() + timeout
    for var, what, check in checks:
        if not wait(var, what, check, deadline, timeout):
            return 1
    return 0


def dependencies(mode: str, part: str) -> list[tuple[str, str, Callable[[], None]]]:
    """(variable, description, check) for the database and, unless migrating, the broker."""
    from bus.broker import Broker
    from bus.config import Settings
    from bus.db import check_database, make_engine
    from bus.secrets import check_secrets
    from portico import parts

    if mode != "migrate":
        check_secrets(part)
    settings = Settings.from_env(part)
    check_standalone = getattr(parts.bootstrap(part), "check_standalone", None)
    if mode != "migrate" and check_standalone is not None:
        check_standalone(settings)
    db_var = f"PORTICO_{part.upper()}_DATABASE_URL"
    engine = make_engine(settings.database_url)
    checks = [
        (
            db_var,
            f"the {part} database at {where(settings.database_url)}",
            lambda: check_database(engine),
        )
    ]
    if mode != "migrate":
        broker = Broker(settings.broker_url, settings.bus_prefix)
        checks.append(
            ("PORTICO_BROKER_URL", f"the broker at {where(settings.broker_url)}", broker.check)
        )
    return checks


def wait_timeout() -> float:
    raw = os.environ.get("PORTICO_WAIT_TIMEOUT", "")
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"PORTICO_WAIT_TIMEOUT={raw!r} must be a number of seconds") from None
    return max(value, 0.0)


def wait(var: str, what: str, check: Callable[[], None], deadline: float, timeout: float) -> bool:
    """Retry `check` with a growing pause (0.5 s, doubling, at most 5 s) until it passes or
    the deadline is reached (tenacity's retry loop)."""
    import tenacity

    def before_sleep(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        say(f"waiting for {what} ({var}), attempt {state.attempt_number}: {short(error)}")

    growing = tenacity.wait_exponential(multiplier=0.5, max=5.0)

    def pause(state: tenacity.RetryCallState) -> float:
        return min(
            growing(state), max(deadline - time.monotonic(), 0.0)
        )  # last try at the deadline

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Exception),
        wait=pause,
        stop=lambda state: time.monotonic() >= deadline,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        retrying(check)
    except Exception as exc:  # noqa: BLE001 - any failure means "not yet", and now "not in time"
        say(
            f"{var}: {what} did not answer within {timeout:g}s (last error: {short(exc)}). "
            f"Check {var} and that the service is running and reachable from here."
        )
        return False
    if retrying.statistics.get("attempt_number", 1) > 1:
        say(f"{what} answers")
    return True


def where(url: str) -> str:
    """host:port of a URL, never its password."""
    parsed = urlparse(url)
    if parsed.hostname:
        try:
            port = parsed.port
        except ValueError:
            port = None
        return f"{parsed.hostname}:{port}" if port else parsed.hostname
    return f"{parsed.scheme}://{parsed.path}" if parsed.scheme else "(unset)"


def short(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def redact(text: str) -> str:
    """`text` with the password of any URL in it replaced by ***."""
    return CREDENTIALS.sub(r"\1***@", text)


def say(message: str) -> None:
    print(f"{PROG}: {redact(message)}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

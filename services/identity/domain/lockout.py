"""Sign-in throttling: failures counted per login key of the typed e-mail, known or not; a
temporary lock."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from bus.login import counting_key

DEFAULT_LOCK_THRESHOLD = 5
DEFAULT_LOCK_MINUTES = 15


def throttle_key(email: str) -> str:
    """The key failures are counted under: the login key of the typed e-mail (bus.login), so
    every spelling of an address shares one count and one lock. It needs no user, so an unknown
    address is throttled like a known one, and text that is no address is counted folded."""
    return counting_key(email)[:320]


@dataclass(frozen=True)
class LoginThrottle:
    """Failed sign-ins since the last success or lock, and when the current lock ends."""

    failures: int = 0
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def record_failure(
        self,
        now: datetime,
        *,
        threshold: int | None = DEFAULT_LOCK_THRESHOLD,
        lock_minutes: int = DEFAULT_LOCK_MINUTES,
    ) -> tuple["LoginThrottle", bool]:
        """The state after one more failed sign-in, and whether the e-mail is now locked.

        Reaching `threshold` locks for `lock_minutes` and restarts the count, so once the lock
        ends the next failures count from zero. `threshold=None` never locks. A failure during a
        lock changes nothing (the caller should not even check the password then).
        """
        if self.is_locked(now):
            return self, True
        failures = self.failures + 1
        if threshold is not None and failures >= threshold:
            return LoginThrottle(0, now + timedelta(minutes=lock_minutes)), True
        return LoginThrottle(failures, None), False

    def reset(self) -> "LoginThrottle":
        """After a successful sign-in, an administrator's unlock or a password reset."""
        return LoginThrottle()

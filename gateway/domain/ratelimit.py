"""Rate limits as data: `count` attempts per fixed window of `seconds`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime


class LimitError(ValueError):
    """A limit setting that cannot be read; the message says what to write instead."""


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str, name: str = "limit") -> Limit:
        """`"20/60"` is 20 attempts a minute; `"0/60"` turns the limit off."""
        try:
            count, seconds = (int(part) for part in text.split("/", 1))
        except ValueError:
            raise LimitError(f"{name}={text!r}: write COUNT/SECONDS, e.g. 20/60") from None
        if count < 0 or seconds <= 0:
            raise LimitError(f"{name}={text!r}: COUNT must be 0 or more and SECONDS more than 0")
        return cls(count, seconds)

    @property
    def enabled(self) -> bool:
        return self.count > 0

    def window_start(self, now: datetime) -> int:
        epoch = int(now.timestamp())
        return epoch - epoch % self.seconds

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the current window ends (at least 1)."""
        end = self.window_start(now) + self.seconds
        return max(1, math.ceil(end - now.timestamp()))

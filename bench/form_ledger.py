"""What cachetools would cost in place of the pages' hand-written form-token ledger.

gateway/web/forms.py keeps each form token's first outcome in an OrderedDict it expires itself
(15 minutes, at most 10,000 entries, releasing the waiters of an entry it drops). The library's
equivalent is cachetools.TTLCache, subclassed to release those waiters too. This prints the CPU
of one submission (claim, then finish) on each, with the ledger full. cachetools is not a
dependency: `pip install cachetools`, then `python -m bench.form_ledger [SUBMISSIONS]`.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from gateway.web import forms


class TTLCacheLedger(forms.Ledger):
    """The same ledger on cachetools.TTLCache: expiry and the size bound are the library's."""

    def __init__(self) -> None:
        import cachetools

        class Entries(cachetools.TTLCache):  # type: ignore[type-arg]
            def popitem(self) -> Any:  # the size bound drops the oldest: release its waiters
                key, entry = super().popitem()
                entry.done.set()
                return key, entry

            def expire(self, time: Any = None) -> Any:
                expired = super().expire(time)
                for _key, entry in expired:
                    entry.done.set()
                return expired

        self._lock = threading.Lock()
        self._entries = Entries(
            maxsize=forms.LEDGER_MAX, ttl=forms.LEDGER_TTL_SECONDS, timer=time.monotonic
        )

    def _expire(self) -> None:
        pass  # TTLCache expires on access


def cpu_per_submission(ledger: forms.Ledger, submissions: int) -> float:
    """Microseconds of CPU per claim + finish, the ledger kept full (every claim evicts one)."""
    done = forms.Outcome("/account")
    for i in range(forms.LEDGER_MAX):
        ledger.claim("client", f"fill-{i}", "scope")
    started = time.process_time()
    for i in range(submissions):
        ledger.claim("client", f"token-{i}", "scope")
        ledger.finish("client", f"token-{i}", "scope", done)
    return 1e6 * (time.process_time() - started) / submissions


def main(argv: list[str]) -> None:
    submissions = int(argv[0]) if argv else 50_000
    hand = cpu_per_submission(forms.Ledger(), submissions)
    library = cpu_per_submission(TTLCacheLedger(), submissions)
    print(
        f"{submissions} submissions, CPU per submission: hand-written ledger {hand:.1f} µs, "
        f"cachetools.TTLCache {library:.1f} µs ({library / hand:.1f}x)"
    )


if __name__ == "__main__":
    main(sys.argv[1:])

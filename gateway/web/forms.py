"""Forms that survive people: one-time form tokens, safe `next` targets, the CSRF cookie.

A rendered form carries a random `form_token`. The first submission of a token runs; a second
submission of the same token (double click, reload of the POST) waits for the first and gets
its outcome again: the same redirect, the same message, never a second action nor an error. The
ledger lives in this process; a duplicate landing on another worker meets the API's own
idempotent answers (409 already held, 410 link used), which the pages word as results.

An outcome is kept for the browser that submitted it, not for the token alone: its entries are
keyed by the browser's own random key (kept in its signed pages cookie), so anyone else sending
the same token is a new submission of their own and never receives the first one's cookies.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CSRF_COOKIE = "portico_csrf"
FORM_TOKEN = "form_token"
CLIENT_KEY = "web_client"  # the pages session's key to the ledger
LEDGER_TTL_SECONDS = 15 * 60
LEDGER_MAX = 10_000
WAIT_SECONDS = 30.0


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


def new_client_key() -> str:
    """A browser's own key to the ledger (kept in its signed pages cookie)."""
    return secrets.token_urlsafe(24)


@dataclass
class Outcome:
    """What a successful submission answered: where to go, what to say, which cookies to set."""

    location: str
    messages: list[tuple[str, str]] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)


@dataclass
class _Entry:
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None
    at: float = field(default_factory=time.monotonic)


class Ledger:
    """Form tokens seen by this process, with the outcome of their first submission."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    @staticmethod
    def _key(client: str, token: str, scope: str) -> str:
        return hashlib.sha256(f"{client}\0{scope}\0{token}".encode()).hexdigest()

    def claim(self, client: str, token: str, scope: str) -> tuple[bool, _Entry]:
        """(True, entry) for this client's first submission of the token; (False, entry) for its repeat."""
        key = self._key(client, token, scope)
        with self._lock:
            self._expire()
            entry = self._entries.get(key)
            if entry is not None:
                return False, entry
            entry = self._entries[key] = _Entry()
            return True, entry

    def finish(self, client: str, token: str, scope: str, outcome: Outcome | None) -> None:
        """Record the outcome (None: the submission failed and may be tried again)."""
        key = self._key(client, token, scope)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return
            if outcome is None:
                del self._entries[key]
            else:
                entry.outcome = outcome
            entry.done.set()

    def _expire(self) -> None:
        limit = time.monotonic() - LEDGER_TTL_SECONDS
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.at >= limit and len(self._entries) < LEDGER_MAX:
                break
            self._entries.popitem(last=False)
            entry.done.set()


LEDGER = Ledger()


def safe_next(target: str | None, default: str = "/account") -> str:
    """`target` when it is a relative path of this site; `default` otherwise (no open redirect)."""
    if not target or len(target) > 2000:
        return default
    if any(ord(char) < 32 or char == "\\" for char in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target

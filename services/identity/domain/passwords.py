"""Password policy as data: one profile per security level, the checks it implies, and the rules
shown to a person while they choose a password."""

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from bus.contracts.vocabulary import PASSWORD_LEVELS
from bus.i18n import Message, _l
from services.identity.domain.hashing import default_hasher

MAX_LENGTH = 128
BLOCKLIST_FILE = Path(__file__).parent / "data" / "common-passwords.txt"


class Verifier(Protocol):
    def verify(self, hashed: str, password: str) -> bool: ...


@dataclass(frozen=True)
class RuleViolation:
    code: str
    message: str


@dataclass(frozen=True)
class PolicyProfile:
    """What one security level demands. Every profile also refuses common passwords."""

    min_length: int
    max_length: int = MAX_LENGTH
    min_classes: int = 0  # of upper, lower, digit, symbol; 0 = no composition rule
    forbid_names: bool = False  # must not equal or contain the first or last name
    forbid_name_runs: int = 0  # run length shared with a name that is refused; 0 = off
    history: int = 0  # earlier passwords that may not come back; 0 = no history check
    expiry_days: int | None = None
    lock_threshold: int | None = None  # failed sign-ins before a lock; None = never locks

    def expires_at(self, changed_at: datetime) -> datetime | None:
        if self.expiry_days is None:
            return None
        return changed_at + timedelta(days=self.expiry_days)

    def expires(self, changed_at: datetime, now: datetime) -> bool:
        """True when a password set at `changed_at` must be changed by `now`."""
        expires_at = self.expires_at(changed_at)
        return expires_at is not None and now >= expires_at


_CLASSIC_WEAK = PolicyProfile(min_length=8, min_classes=3, forbid_names=True)
_CLASSIC_MODERATE = PolicyProfile(
    min_length=8,
    min_classes=3,
    forbid_names=True,
    forbid_name_runs=3,
    history=24,
    expiry_days=90,
    lock_threshold=5,
)

# "classic" is the portal's own policy (the manual's). "nist" follows NIST SP 800-63B-4: length and a
# blocklist, no composition rules, no expiry, no history. Names count as context-specific
# blocklist words. Level 3 asks 15 characters, the minimum 800-63B-4 sets for a password used as
# a single factor; levels 1-2 ask 8, its minimum alongside another factor. The lock after 5
# failures stays on levels 2-3 as the rate limiting 800-63B requires.
PROFILES: dict[str, dict[int, PolicyProfile]] = {
    "classic": {
        1: _CLASSIC_WEAK,
        2: _CLASSIC_MODERATE,
        3: replace(_CLASSIC_MODERATE, min_length=10),
    },
    "nist": {
        1: PolicyProfile(min_length=8, forbid_names=True),
        2: PolicyProfile(min_length=8, forbid_names=True, lock_threshold=5),
        3: PolicyProfile(min_length=15, forbid_names=True, lock_threshold=5),
    },
}


def policy_for(level: int, profile: str = "classic") -> PolicyProfile:
    if profile not in PROFILES:
        raise ValueError(f"unknown password profile {profile!r}; known: {sorted(PROFILES)}")
    if level not in PASSWORD_LEVELS:
        raise ValueError(f"unknown password level {level!r}; known: {PASSWORD_LEVELS}")
    return PROFILES[profile][level]


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common and breached passwords, casefolded; read once, on first use."""
    text = BLOCKLIST_FILE.read_text(encoding="utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line.strip())


def normalise_password(password: str) -> str:
    """NFC, the form that is measured, compared and hashed."""
    return unicodedata.normalize("NFC", password)


def character_classes(password: str) -> set[str]:
    """Which of upper, lower, digit, symbol occur. Letters count by their case (a caseless letter,
    such as a CJK ideograph, counts for none); anything neither letter nor digit is a symbol."""
    classes = set()
    for char in password:
        if char.isupper() or unicodedata.category(char) == "Lt":
            classes.add("upper")
        elif char.islower():
            classes.add("lower")
        elif char.isdigit():
            classes.add("digit")
        elif not char.isalpha():
            classes.add("symbol")
    return classes


def _names(first_name: str, last_name: str) -> list[str]:
    names = (normalise_password(name).strip().casefold() for name in (first_name, last_name))
    return [name for name in names if name]


def _contains_name(folded: str, names: list[str]) -> bool:
    return any(folded == name or (len(name) >= 3 and name in folded) for name in names)


def _shared_run(folded: str, names: list[str], run: int) -> str | None:
    for name in names:
        for start in range(len(name) - run + 1):
            if name[start : start + run] in folded:
                return name[start : start + run]
    return None


# Each rule's text, by its code; a rule's message carries the code as `password.<code>`.
_RULE_TEXTS = {
    "too_short": _l("The password must be at least {n} characters long."),
    "too_long": _l("The password must be at most {n} characters long."),
    "too_few_classes": _l(
        "The password must mix at least {n} of these 4 kinds of characters:"
        " capital letters, small letters, digits and symbols."
    ),
    "contains_name": _l("The password must not be or contain your first or last name."),
    "shares_name_run": _l(
        "The password must not contain {n} characters in a row that"
        " also appear in your first or last name."
    ),
    "shares_name_run_here": _l(
        "The password must not contain {n} characters in a row that"
        " also appear in your first or last name. Here: “{run}”."
    ),
    "reused": _l(
        "The password must differ from your last {n} passwords;"
        " choose one you have not used before."
    ),
    "common": _l(
        "The password must not be a common password that is easy to guess;"
        " a few unrelated words make a good one."
    ),
}


def _rule_text(code: str, policy: PolicyProfile, run: str | None = None) -> Message:
    text = _RULE_TEXTS[code + "_here" if run is not None else code]
    return _l(text.msgid, code="password." + code, n=_rule_value(code, policy), run=run)


def _codes_in_force(policy: PolicyProfile) -> list[str]:
    codes = ["too_short", "too_long"]
    if policy.min_classes:
        codes.append("too_few_classes")
    if policy.forbid_names:
        codes.append("contains_name")
    if policy.forbid_name_runs:
        codes.append("shares_name_run")
    codes.append("common")
    if policy.history:
        codes.append("reused")
    return codes


def _rule_value(code: str, policy: PolicyProfile) -> int | None:
    """The number a rule is about (a length, a count of kinds, a run, a history), if any."""
    return {
        "too_short": policy.min_length,
        "too_long": policy.max_length,
        "too_few_classes": policy.min_classes,
        "shares_name_run": policy.forbid_name_runs,
        "reused": policy.history,
    }.get(code)


def password_rules(level: int, profile: str = "classic") -> list[dict[str, Any]]:
    """The rules in force at a level, in the order they are checked: the wizard's checklist.
    Each is {code, text} and, for a rule about a number, {value}: a client words the rule in its
    own language from the code and the value, without reading the text."""
    policy = policy_for(level, profile)
    rules: list[dict[str, Any]] = []
    for code in _codes_in_force(policy):
        rule: dict[str, Any] = {"code": code, "text": _rule_text(code, policy)}
        value = _rule_value(code, policy)
        if value is not None:
            rule["value"] = value
        rules.append(rule)
    return rules


def check_against(
    policy: PolicyProfile,
    password: str,
    *,
    first_name: str,
    last_name: str,
    previous_hashes: Iterable[str] = (),
    hasher: Verifier | None = None,
) -> list[RuleViolation]:
    """Every rule of `policy` that `password` breaks; empty when it is acceptable.

    `previous_hashes` are the user's password hashes, most recent first (the current one
    included); only the first `policy.history` are tried.
    """
    password = normalise_password(password)
    folded = password.casefold()
    names = _names(first_name, last_name)
    violations: list[RuleViolation] = []

    def breaks(code: str, run: str | None = None) -> None:
        violations.append(RuleViolation(code, _rule_text(code, policy, run)))

    if len(password) < policy.min_length:
        breaks("too_short")
    too_long = len(password) > policy.max_length
    if too_long:
        breaks("too_long")
    if policy.min_classes and len(character_classes(password)) < policy.min_classes:
        breaks("too_few_classes")
    if policy.forbid_names and _contains_name(folded, names):
        breaks("contains_name")
    if policy.forbid_name_runs:
        run = _shared_run(folded, names, policy.forbid_name_runs)
        if run is not None:
            breaks("shares_name_run", run)
    if folded in common_passwords():
        breaks("common")
    # A password over the limit is refused anyway; it is not worth up to `history` Argon2 runs.
    if policy.history and not too_long:
        recent = list(previous_hashes)[: policy.history]
        if recent:
            hasher = hasher or default_hasher()
            if any(hasher.verify(hashed, password) for hashed in recent):
                breaks("reused")
    return violations


def check_password(
    password: str,
    *,
    level: int,
    first_name: str,
    last_name: str,
    profile: str = "classic",
    previous_hashes: Iterable[str] = (),
    hasher: Verifier | None = None,
) -> list[RuleViolation]:
    """Every rule of the level's policy that `password` breaks; empty when it is acceptable."""
    return check_against(
        policy_for(level, profile),
        password,
        first_name=first_name,
        last_name=last_name,
        previous_hashes=previous_hashes,
        hasher=hasher,
    )

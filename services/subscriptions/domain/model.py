"""The subscription lifecycle: request, accept, refuse, cancel, expire, each with its rule."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Protocol

from bus.i18n import Message, _l, joined

from .definitions import ServiceDefinition
from .errors import AlreadySubscribed, InvalidExpiry, InvalidTransition, LevelTooLow

PENDING = "pending"
ACCEPTED = "accepted"
REFUSED = "refused"
CANCELLED = "cancelled"
EXPIRED = "expired"

# status → the statuses it may move to; everything else is an InvalidTransition.
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({ACCEPTED, REFUSED}),
    ACCEPTED: frozenset({CANCELLED, EXPIRED}),
    REFUSED: frozenset(),
    CANCELLED: frozenset(),
    EXPIRED: frozenset(),
}

_ACTION_TARGET = {"accept": ACCEPTED, "refuse": REFUSED, "cancel": CANCELLED, "expire": EXPIRED}
# What cannot be done (and done again), and what to do instead: parts of one refusal.
_CANNOT = {
    "accept": (_l("it cannot be accepted"), _l("it cannot be accepted again")),
    "refuse": (_l("it cannot be refused"), _l("it cannot be refused again")),
    "cancel": (_l("it cannot be removed"), _l("it cannot be removed again")),
    "expire": (_l("it cannot expire"), _l("it cannot expire again")),
}
_NEXT_STEP = {
    ("accepted", "refuse"): _l("To withdraw it, remove the subscription instead."),
    ("pending", "cancel"): _l("An administrator can refuse the request instead."),
    ("refused", "accept"): _l("The user can ask for the service again."),
    ("cancelled", "accept"): _l("The user can subscribe to the service again."),
    ("expired", "accept"): _l("The user can subscribe to the service again."),
}


class ServiceTerms(Protocol):
    """What a request needs to know about a service as the account offers it."""

    @property
    def code(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def min_password_level(self) -> int: ...

    @property
    def requires_validation(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """A service as one account offers it: the definition's level, the account's two flags."""

    code: str
    title: str
    family: str
    min_password_level: int = 1
    requires_validation: bool = False
    auto_subscribe: bool = False
    description: str = ""
    added_at: datetime | None = None  # when it entered the account's catalog

    @classmethod
    def from_definition(
        cls,
        definition: ServiceDefinition,
        *,
        requires_validation: bool | None = None,
        auto_subscribe: bool | None = None,
        added_at: datetime | None = None,
    ) -> ServiceSettings:
        """The definition as an account offers it; a flag left None keeps the default."""
        return cls(
            code=definition.code,
            title=definition.title,
            family=definition.family,
            min_password_level=definition.min_password_level,
            requires_validation=definition.requires_validation
            if requires_validation is None
            else requires_validation,
            auto_subscribe=definition.auto_subscribe if auto_subscribe is None else auto_subscribe,
            description=definition.description,
            added_at=added_at,
        )


def level_label(level: int) -> Message:
    """`moderate (level 2)`: how a password security level reads in a message."""
    return _l("{name} (level {level})", name=_LEVEL_NAMES.get(level, _l("unknown")), level=level)


_LEVEL_NAMES = {1: _l("weak"), 2: _l("moderate"), 3: _l("strong")}


def ensure_level(service: ServiceTerms, user_level: int) -> None:
    """Raise LevelTooLow when the user's password level is below the service's minimum."""
    needed = service.min_password_level
    if user_level >= needed:
        return
    raise LevelTooLow(
        _l(
            "“{title}” needs a {needed} password; yours is {yours}. Ask an administrator of your"
            " account to raise your password security level, then change your password and try"
            " again.",
            title=service.title,
            needed=level_label(needed),
            yours=level_label(user_level),
        ),
        required_level=needed,
        user_level=user_level,
    )


def ensure_expiry(expires_on: date | None, today: date) -> None:
    """Raise InvalidExpiry when an expiry date lies before today (today itself is allowed)."""
    if expires_on is not None and expires_on < today:
        raise InvalidExpiry(
            _l(
                "The expiry date {day} is in the past; choose {today} or a later date, or leave"
                " it empty.",
                day=expires_on.isoformat(),
                today=today.isoformat(),
            )
        )


def _instant(today: date | None, now: datetime | None) -> tuple[date, datetime]:
    if now is not None:
        return (today or now.date()), now
    if today is None:
        raise TypeError("give today, now, or both")
    return today, datetime.combine(today, time(), tzinfo=UTC)


@dataclass(eq=False)
class Subscription:
    """One user's subscription to one service, from request to its end."""

    user_id: str | None
    service_code: str
    requested_at: datetime
    status: str = PENDING
    decided_at: datetime | None = None
    decided_by: str | None = None
    expires_on: date | None = None
    reason: str | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None
    id: str | None = None

    # -- reading ------------------------------------------------------------------------------

    def is_active(self, today: date) -> bool:
        """Accepted and not past its expiry date (a subscription runs through `expires_on`)."""
        return self.status == ACCEPTED and (self.expires_on is None or self.expires_on >= today)

    def is_effective(self, today: date) -> bool:
        """What the domain applies today; whether the gateway already applies it is its own say."""
        return self.is_active(today)

    def is_due_to_expire(self, today: date) -> bool:
        """Accepted and its expiry date has passed: the expiry job should end it."""
        return self.status == ACCEPTED and self.expires_on is not None and self.expires_on < today

    @property
    def is_current(self) -> bool:
        """Pending or accepted: the user holds it or waits for it (cannot ask a second time)."""
        return self.status in (PENDING, ACCEPTED)

    # -- moving -------------------------------------------------------------------------------

    def accept(
        self,
        expires_on: date | None = None,
        today: date | None = None,
        *,
        now: datetime | None = None,
        decided_by: str | None = None,
    ) -> None:
        """Accept a pending request, optionally until `expires_on` (never in the past)."""
        today, now = _instant(today, now)
        self._ensure_can("accept")
        ensure_expiry(expires_on, today)
        self.status = ACCEPTED
        self.expires_on = expires_on
        self.decided_at = now
        self.decided_by = decided_by

    def refuse(
        self,
        today: date | None = None,
        *,
        now: datetime | None = None,
        decided_by: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Refuse a pending request, with an optional reason told to the requester."""
        _, now = _instant(today, now)
        self._ensure_can("refuse")
        self.status = REFUSED
        self.decided_at = now
        self.decided_by = decided_by
        self.reason = reason

    def cancel(
        self,
        today: date | None = None,
        *,
        now: datetime | None = None,
        cancelled_by: str | None = None,
    ) -> None:
        """Remove an accepted subscription (the user or an administrator did it)."""
        _, now = _instant(today, now)
        self._ensure_can("cancel")
        self.status = CANCELLED
        self.ended_at = now
        self.ended_by = cancelled_by

    def expire(self, today: date, *, now: datetime | None = None) -> None:
        """End an accepted subscription whose expiry date has passed."""
        today, now = _instant(today, now)
        self._ensure_can("expire")
        if self.expires_on is None or self.expires_on >= today:
            if self.expires_on:
                refusal = _l(
                    "This subscription runs until {last} included; it cannot expire on {today}.",
                    last=self.expires_on.isoformat(),
                    today=today.isoformat(),
                )
            else:
                refusal = _l(
                    "This subscription has no expiry date; it cannot expire on {today}.",
                    today=today.isoformat(),
                )
            raise InvalidTransition(
                refusal,
                status=self.status,
                action="expire",
            )
        self.status = EXPIRED
        self.ended_at = now

    def end(self, *, now: datetime, ended_by: str | None = None, reason: str | None = None) -> None:
        """End a pending request or an accepted subscription because its user or service is gone.

        Not a person's decision but a consequence (the user was deleted, the account's
        contracts no longer give the service): both a waiting request and a held subscription
        end as `cancelled`. Anything already ended cannot end again.
        """
        if not self.is_current:
            raise InvalidTransition(
                _l("{history}; it has already ended.", history=self._history()),
                status=self.status,
                action="end",
            )
        self.status = CANCELLED
        self.ended_at = now
        self.ended_by = ended_by
        if reason is not None:
            self.reason = reason

    def _ensure_can(self, action: str) -> None:
        target = _ACTION_TARGET[action]
        if target in TRANSITIONS[self.status]:
            return
        cannot = _CANNOT[action][1 if target == self.status else 0]
        refusal = _l("{history}; {cannot}.", history=self._history(), cannot=cannot)
        next_step = _NEXT_STEP.get((self.status, action))
        raise InvalidTransition(
            joined([refusal, next_step]) if next_step else refusal,
            status=self.status,
            action=action,
        )

    def _history(self) -> Message:
        def on(moment: datetime | date | None) -> str | None:
            if moment is None:
                return None
            day = moment.date() if isinstance(moment, datetime) else moment
            return day.isoformat()

        if self.status == PENDING:
            return _l("This request is still waiting for an administrator's decision")
        if self.status == ACCEPTED:
            day = on(self.decided_at)
            if day:
                return _l("This request was already accepted on {day}", day=day)
            return _l("This request was already accepted")
        if self.status == REFUSED:
            day = on(self.decided_at)
            if day:
                return _l("This request was refused on {day}", day=day)
            return _l("This request was refused")
        if self.status == CANCELLED:
            day = on(self.ended_at)
            if day:
                return _l("This subscription was removed on {day}", day=day)
            return _l("This subscription was removed")
        if self.expires_on:
            return _l(
                "This subscription has expired (its last day was {day})",
                day=self.expires_on.isoformat(),
            )
        return _l("This subscription has expired")


def request(
    service_settings: ServiceTerms,
    user_level: int,
    now: datetime,
    *,
    user_id: str | None = None,
    subscription_id: str | None = None,
) -> Subscription:
    """A user asks for a service: accepted at once, or pending when it needs validation.

    Raises LevelTooLow when the user's password level is below the service's minimum.
    """
    ensure_level(service_settings, user_level)
    subscription = Subscription(
        user_id=user_id, service_code=service_settings.code, requested_at=now, id=subscription_id
    )
    if not service_settings.requires_validation:
        subscription.accept(now=now)
    return subscription


def grant(
    service_settings: ServiceTerms,
    user_level: int,
    now: datetime,
    *,
    user_id: str | None = None,
    granted_by: str | None = None,
    expires_on: date | None = None,
    today: date | None = None,
    subscription_id: str | None = None,
) -> Subscription:
    """An administrator (or auto-subscribe) gives a service: accepted at once, no validation.

    Raises LevelTooLow like a request does, and InvalidExpiry for a past expiry date.
    """
    ensure_level(service_settings, user_level)
    today = today or now.date()
    ensure_expiry(expires_on, today)
    subscription = Subscription(
        user_id=user_id, service_code=service_settings.code, requested_at=now, id=subscription_id
    )
    subscription.accept(expires_on, today, now=now, decided_by=granted_by)
    return subscription


def ensure_not_held(
    subscriptions: Iterable[Subscription], service_code: str, title: str | None = None
) -> None:
    """Raise AlreadySubscribed when one of these subscriptions to the service is current."""
    for subscription in subscriptions:
        if subscription.service_code != service_code or not subscription.is_current:
            continue
        name = _l("“{title}”", title=title) if title else _l("this service")
        if subscription.status == PENDING:
            raise AlreadySubscribed(
                _l(
                    "A request for {name} is already waiting for an administrator's decision.",
                    name=name,
                )
            )
        raise AlreadySubscribed(_l("You already hold {name}.", name=name))

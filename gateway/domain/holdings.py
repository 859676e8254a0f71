"""Who holds which service: the lifecycle order that lets projections ignore older states."""

from __future__ import annotations

from datetime import date, datetime

from bus.clock import as_utc

# The subscription lifecycle only moves forward: pending -> accepted | refused;
# accepted -> cancelled | expired. A state of lower rank than the one kept is older news.
RANK = {"pending": 0, "accepted": 1, "refused": 2, "cancelled": 2, "expired": 2}


def supersedes(
    new_status: str, new_at: datetime, old_status: str | None, old_at: datetime | None
) -> bool:
    """Whether a state (status, occurred at) replaces the one kept for the same subscription.

    The lifecycle rank decides first, so clock skew between parts cannot bring a subscription
    back to an earlier state; within one rank the later occurrence wins (e.g. a new expiry).
    """
    if old_status is None or old_at is None:
        return True
    new_rank, old_rank = RANK.get(new_status, 0), RANK.get(old_status, 0)
    if new_rank != old_rank:
        return new_rank > old_rank
    return new_at >= old_at


def is_effective(status: str | None, expires_on: date | None, today: date) -> bool:
    """Accepted and not past its expiry date (the last day included)."""
    return status == "accepted" and (expires_on is None or expires_on >= today)


def parse_day(value: object) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def parse_instant(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return as_utc(moment)

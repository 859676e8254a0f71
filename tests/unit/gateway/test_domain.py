"""The gateway's rules without I/O: lifecycle order, effectiveness, session expiry, rate-limit windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.domain.content import GATES
from gateway.domain.holdings import is_effective, parse_day, parse_instant, supersedes
from gateway.domain.ratelimit import Limit, LimitError
from gateway.domain.sessions import SessionPolicy, hash_token, new_token, same_token

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "new, old, expected",
    [
        ("accepted", "pending", True),
        ("pending", "accepted", False),
        ("cancelled", "accepted", True),
        ("accepted", "cancelled", False),
        ("expired", "accepted", True),
        ("refused", "pending", True),
    ],
)
def test_the_lifecycle_only_moves_forward_whatever_the_clocks_say(new, old, expected):
    assert supersedes(new, T0 - timedelta(hours=1), old, T0) is expected


def test_within_a_rank_the_later_occurrence_wins():
    assert supersedes("accepted", T0, "accepted", T0 - timedelta(seconds=1))
    assert not supersedes("accepted", T0 - timedelta(seconds=1), "accepted", T0)
    assert supersedes("accepted", T0, None, None)


def test_effective_means_accepted_and_not_past_the_last_day():
    today = date(2025, 1, 6)
    assert is_effective("accepted", None, today)
    assert is_effective("accepted", today, today)
    assert not is_effective("accepted", today - timedelta(days=1), today)
    assert not is_effective("pending", None, today)


def test_parsing_days_and_instants():
    assert parse_day("2025-01-06") == date(2025, 1, 6)
    assert parse_day(None) is None
    assert parse_instant("2025-01-06T09:00:00Z") == T0
    assert parse_instant(datetime(2025, 1, 6, 9, 0)) == T0  # naive read back from SQLite = UTC


def test_tokens_are_random_and_kept_as_hashes():
    token = new_token()
    assert len(token) >= 43 and token != new_token()
    assert len(hash_token(token)) == 64 and token not in hash_token(token)
    assert same_token(token, hash_token(token)) and not same_token("other", hash_token(token))


def test_session_policy():
    policy = SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=12))
    alive = policy.expiry_reason(created_at=T0, last_seen_at=T0, now=T0 + timedelta(minutes=29))
    idle = policy.expiry_reason(created_at=T0, last_seen_at=T0, now=T0 + timedelta(minutes=30))
    old = policy.expiry_reason(
        created_at=T0, last_seen_at=T0 + timedelta(hours=12), now=T0 + timedelta(hours=12)
    )
    assert alive is None and "without activity" in idle and "maximum length" in old
    assert policy.expires_at(T0) == T0 + timedelta(hours=12)
    assert not policy.needs_touch(T0, T0 + timedelta(seconds=30))
    assert policy.needs_touch(T0, T0 + timedelta(minutes=3))


def test_limits_parse_and_windows():
    limit = Limit.parse("20/60")
    assert (limit.count, limit.seconds, limit.enabled) == (20, 60, True)
    assert not Limit.parse("0/60").enabled
    moment = T0 + timedelta(seconds=15)
    assert limit.window_start(moment) == int(T0.timestamp())
    assert limit.retry_after(moment) == 45
    for bad in ("20", "x/60", "5/0", "-1/60"):
        with pytest.raises(LimitError):
            Limit.parse(bad)


def test_every_gate_has_a_path_and_a_service_to_ask_for():
    assert {g.name for g in GATES} == {
        "invoices",
        "products_and_contracts",
        "planning",
        "intervention_reports",
    }
    assert all(g.service_title and g.path for g in GATES)

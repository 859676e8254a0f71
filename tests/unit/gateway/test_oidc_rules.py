"""The provider's rules for a fresh sign-in asked by an application (OpenID Connect Core 3.1.2.1:
prompt=login, max_age), with no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.oidc import (
    BadMaxAge,
    fresh_sign_in_needed,
    max_age_of,
    without_fresh_sign_in,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "seconds"), [(None, None), ("", None), ("0", 0), ("600", 600)])
def test_max_age_is_whole_seconds(value, seconds):
    assert max_age_of(value) == seconds


@pytest.mark.parametrize("value", ["-1", "1.5", "soon", "٣", "99999999999"])
def test_a_max_age_that_is_not_whole_seconds_is_refused(value):
    with pytest.raises(BadMaxAge):
        max_age_of(value)


def test_prompt_login_always_asks_and_max_age_asks_only_past_it():
    signed = NOW - timedelta(seconds=120)
    assert fresh_sign_in_needed("login", None, NOW, NOW)
    assert fresh_sign_in_needed("consent login", None, NOW, NOW)
    assert not fresh_sign_in_needed(None, None, signed, NOW)
    assert not fresh_sign_in_needed(None, 120, signed, NOW)
    assert fresh_sign_in_needed(None, 119, signed, NOW)
    assert fresh_sign_in_needed(None, 0, NOW, NOW)  # max_age=0 is prompt=login


def test_the_request_to_come_back_to_does_not_ask_again():
    query = [("client_id", "c"), ("prompt", "login"), ("max_age", "0"), ("state", "s")]
    assert without_fresh_sign_in(query) == [("client_id", "c"), ("state", "s")]
    assert without_fresh_sign_in([("prompt", "login consent"), ("max_age", "60")]) == [
        ("prompt", "consent"),
        ("max_age", "60"),
    ]

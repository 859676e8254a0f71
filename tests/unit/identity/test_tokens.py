"""Unit tests of single-use, expiring link tokens."""

import re
from datetime import timedelta

import pytest

from services.identity.domain.tokens import (
    DEFAULT_LIFETIMES,
    IssuedToken,
    hash_token,
    new_token,
    token_state,
)


def test_a_new_token_is_random_and_only_its_sha256_is_kept():
    plain, digest = new_token()
    assert len(plain) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", plain)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert hash_token(plain) == digest
    assert new_token()[0] != plain


def test_default_lifetimes():
    assert DEFAULT_LIFETIMES == {
        "activation": timedelta(days=7),
        "reset": timedelta(hours=1),
        "email_change": timedelta(hours=24),
    }


@pytest.mark.parametrize("purpose", sorted(DEFAULT_LIFETIMES))
def test_a_token_is_valid_until_its_lifetime_ends(purpose, clock):
    plain, token = IssuedToken.issue(purpose, clock.now())
    assert token.token_hash == hash_token(plain)
    clock.advance(DEFAULT_LIFETIMES[purpose] - timedelta(seconds=1))
    assert token.state(purpose, clock.now()) == "valid"
    clock.advance(timedelta(seconds=1))
    assert token.state(purpose, clock.now()) == "expired"


def test_lifetimes_are_configurable(clock):
    _, token = IssuedToken.issue("reset", clock.now(), {"reset": timedelta(minutes=10)})
    clock.advance(timedelta(minutes=10))
    assert token.state("reset", clock.now()) == "expired"


def test_a_used_token_reads_used_even_after_it_expires(clock):
    _, token = IssuedToken.issue("reset", clock.now())
    token = token.used(clock.now())
    assert token.state("reset", clock.now()) == "used"
    clock.advance(timedelta(days=30))
    assert token.state("reset", clock.now()) == "used"


def test_a_token_of_another_purpose_is_treated_as_unknown(clock):
    _, token = IssuedToken.issue("activation", clock.now())
    assert token_state(token, purpose="reset", now=clock.now()) == "unknown"
    assert token_state(token, purpose="email_change", now=clock.now()) == "unknown"
    assert token_state(None, purpose="activation", now=clock.now()) == "unknown"


def test_an_unknown_purpose_cannot_be_issued(clock):
    with pytest.raises(ValueError):
        IssuedToken.issue("login", clock.now())

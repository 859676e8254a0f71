"""The OpenID Connect provider's rules without HTTP: redirect URIs, refresh verdicts, claims and
scopes, and signing keys encrypted under the secret key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.adapters import oidc_keys
from gateway.domain.oidc import (
    ProviderPolicy,
    judge_refresh,
    redirect_uri_problem,
    registered,
    user_claims,
)
from gateway.service_layer.oidc import scope_claims

NOW = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "uri", ["https://app.example.com/cb", "http://127.0.0.1:5000/cb", "http://localhost/cb"]
)
def test_https_and_local_http_redirect_uris_can_be_registered(uri):
    assert redirect_uri_problem(uri) is None


@pytest.mark.parametrize(
    "uri", ["http://app.example.com/cb", "https://app.example.com/cb#x", "ftp://a/b", "cb"]
)
def test_other_redirect_uris_cannot(uri):
    assert redirect_uri_problem(uri)


def test_a_redirect_uri_matches_character_for_character():
    uris = ("https://app.example.com/cb",)
    assert registered("https://app.example.com/cb", uris)
    for near in (
        "https://app.example.com/cb/",
        "https://APP.example.com/cb",
        "https://app.example.com/cb?a=1",
        "https://app.example.com/c",
        None,
    ):
        assert not registered(near, uris)


def test_a_refresh_token_is_usable_until_rotated_revoked_or_expired():
    later = NOW + timedelta(days=1)
    assert judge_refresh(rotated_at=None, revoked_at=None, expires_at=later, now=NOW).usable
    reused = judge_refresh(rotated_at=NOW, revoked_at=None, expires_at=later, now=NOW)
    assert not reused.usable and reused.revoke_family
    revoked = judge_refresh(rotated_at=None, revoked_at=NOW, expires_at=later, now=NOW)
    assert not revoked.usable and not revoked.revoke_family
    assert not judge_refresh(rotated_at=None, revoked_at=None, expires_at=NOW, now=NOW).usable


def test_a_retired_key_is_published_until_its_id_tokens_have_expired():
    policy = ProviderPolicy(id_token=timedelta(minutes=10))
    assert policy.key_published_until(NOW) > NOW + timedelta(minutes=10)


def test_claims_say_what_the_contract_lists_and_the_scope_lets_out():
    profile = {
        "id": "u1",
        "email": "a@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "language": "fr-FR",
        "status": "active",
    }
    claims = user_claims(
        profile,
        {"id": "acc", "number": "9", "name": "N", "parent_id": None},
        ["b", "a", "a"],
        ["acc"],
    )
    assert (
        claims["name"] == "Ada Lovelace"
        and claims["locale"] == "fr-FR"
        and claims["email_verified"] is True
    )
    assert claims["portico_account"] == {"id": "acc", "number": "9", "name": "N"}
    assert claims["portico_services"] == ["a", "b"] and claims["portico_administers"] == ["acc"]
    bare = scope_claims(claims, "openid")
    assert "email" not in bare and "name" not in bare and bare["portico_services"] == ["a", "b"]
    assert scope_claims(claims, "openid email")["email"] == "a@example.com"
    pending = user_claims({**profile, "status": "pending_activation"}, None, [], [])
    assert pending["email_verified"] is False and pending["portico_account"] is None


def test_a_private_key_is_encrypted_and_only_the_secret_it_was_made_with_opens_it():
    made = oidc_keys.generate_key("a-secret-key-of-at-least-32-characters!!")
    assert '"d"' not in made.private_jwk and made.kid
    key = oidc_keys.private_key(
        made.kid, made.private_jwk, "a-secret-key-of-at-least-32-characters!!"
    )
    assert key.as_dict(private=True)["d"]
    with pytest.raises(oidc_keys.KeyUnreadable, match="rotate the key"):
        oidc_keys.private_key(made.kid, made.private_jwk, "another-secret-key-of-32-characters!!!!")

"""Unit tests of the user status state machine."""

import pytest

from bus.contracts.vocabulary import USER_STATUSES
from services.identity.domain.model import (
    SIGN_IN_FAILED,
    ActivationRefused,
    SignInRefused,
    TransitionRefused,
    UserStatus,
    activate,
    attach_email,
    ensure_can_sign_in,
    lock,
    unlock,
)

PENDING, ACTIVE, LOCKED, NO_EMAIL = (
    UserStatus.PENDING_ACTIVATION,
    UserStatus.ACTIVE,
    UserStatus.LOCKED,
    UserStatus.NO_EMAIL,
)


def test_statuses_are_the_shared_vocabulary():
    assert tuple(UserStatus) == USER_STATUSES


def test_activation_makes_a_pending_user_active():
    assert activate(PENDING) is ACTIVE


@pytest.mark.parametrize("status", [ACTIVE, LOCKED])
def test_an_activated_user_cannot_activate_again(status):
    with pytest.raises(ActivationRefused) as refused:
        activate(status)
    assert refused.value.code == "already_active"
    assert "sign in" in refused.value.message


def test_a_contact_without_email_cannot_activate():
    with pytest.raises(ActivationRefused) as refused:
        activate(NO_EMAIL)
    assert refused.value.code == "no_email"
    assert str(refused.value) == refused.value.message


def test_active_and_locked_go_both_ways():
    assert lock(ACTIVE) is LOCKED
    assert unlock(LOCKED) is ACTIVE
    assert lock(LOCKED) is LOCKED
    assert unlock(ACTIVE) is ACTIVE  # a reset on an active user changes nothing


@pytest.mark.parametrize("status", [PENDING, NO_EMAIL])
@pytest.mark.parametrize("move", [lock, unlock])
def test_users_never_activated_cannot_be_locked_or_unlocked(status, move):
    with pytest.raises(TransitionRefused):
        move(status)


def test_a_contact_given_an_email_waits_for_activation():
    assert attach_email(NO_EMAIL) is PENDING
    with pytest.raises(TransitionRefused):
        attach_email(ACTIVE)


def test_only_active_users_sign_in():
    ensure_can_sign_in(ACTIVE)
    with pytest.raises(SignInRefused) as refused:
        ensure_can_sign_in(LOCKED)
    assert refused.value.code == "locked"
    assert "Forgotten password" in refused.value.message


@pytest.mark.parametrize("status", [PENDING, NO_EMAIL])
def test_users_who_cannot_sign_in_get_the_wrong_password_answer(status):
    with pytest.raises(SignInRefused) as refused:
        ensure_can_sign_in(status)
    assert (refused.value.code, refused.value.message) == ("sign_in_failed", SIGN_IN_FAILED)

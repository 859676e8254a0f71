"""User status and its state machine, with refusals a person can read."""

from enum import StrEnum

from bus.i18n import _l

SIGN_IN_FAILED = _l(
    "The e-mail address or the password is not right. Check both and try again, or use"
    " “Forgotten password”.",
    code="sign_in.failed",
)


class UserStatus(StrEnum):
    PENDING_ACTIVATION = "pending_activation"
    ACTIVE = "active"
    LOCKED = "locked"
    NO_EMAIL = "no_email"
    # Turned off by the account's directory (SCIM active: false): cannot sign in, keeps its data.
    DEACTIVATED = "deactivated"


class DomainError(Exception):
    """A refusal: `code` is stable for programs, `message` tells a person what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ActivationRefused(DomainError):
    pass


class SignInRefused(DomainError):
    pass


class TransitionRefused(DomainError):
    pass


def activate(status: UserStatus) -> UserStatus:
    """pending_activation → active, once the wizard is complete."""
    if status is UserStatus.PENDING_ACTIVATION:
        return UserStatus.ACTIVE
    if status is UserStatus.DEACTIVATED:
        raise ActivationRefused(
            "deactivated",
            _l(
                "This account has been deactivated by your company's directory;"
                " ask your administrator to reactivate it.",
                code="activation.deactivated",
            ),
        )
    if status is UserStatus.NO_EMAIL:
        raise ActivationRefused(
            "no_email",
            _l(
                "This account has no e-mail address, so it cannot be activated;"
                " ask your administrator to add one.",
                code="activation.no_email",
            ),
        )
    raise ActivationRefused(
        "already_active",
        _l(
            "This account is already activated: sign in with your e-mail address and password,"
            " or use “Forgotten password” if you no longer know it.",
            code="activation.already_active",
        ),
    )


def lock(status: UserStatus) -> UserStatus:
    """active → locked after too many failed sign-ins; locking a locked account changes nothing."""
    if status in (UserStatus.ACTIVE, UserStatus.LOCKED):
        return UserStatus.LOCKED
    raise TransitionRefused(
        "not_active",
        _l("Only an activated account can be locked.", code="user.not_active"),
    )


def unlock(status: UserStatus) -> UserStatus:
    """locked → active, by an administrator or a password reset; an active account stays so."""
    if status in (UserStatus.ACTIVE, UserStatus.LOCKED):
        return UserStatus.ACTIVE
    raise TransitionRefused(
        "not_active",
        _l(
            "This account has never been activated, so there is nothing to unlock;"
            " send it a new activation e-mail instead.",
            code="user.not_active",
        ),
    )


def attach_email(status: UserStatus) -> UserStatus:
    """no_email → pending_activation, when a contact without e-mail is given one."""
    if status is UserStatus.NO_EMAIL:
        return UserStatus.PENDING_ACTIVATION
    raise TransitionRefused(
        "has_email",
        _l(
            "This account already has an e-mail address; change it with an e-mail change instead.",
            code="user.has_email",
        ),
    )


def ensure_can_sign_in(status: UserStatus) -> None:
    """Refuse a sign-in the status forbids, once the password has been checked.

    A locked account is told how to get back in. An account that was never activated, or has no
    e-mail, gets the same answer as a wrong password, so the answer reveals nothing.
    """
    if status is UserStatus.ACTIVE:
        return
    if status is UserStatus.LOCKED:
        raise SignInRefused(
            "locked",
            _l(
                "This account is locked after too many failed sign-ins. Use “Forgotten password”"
                " to set a new password, or ask your administrator to unlock it.",
                code="sign_in.locked",
            ),
        )
    raise SignInRefused("sign_in_failed", SIGN_IN_FAILED)


def deactivate(status: UserStatus) -> UserStatus:
    """Any status → deactivated (SCIM `active: false`); deactivating twice changes nothing."""
    return UserStatus.DEACTIVATED


def reactivate(*, has_email: bool, activated: bool) -> UserStatus:
    """deactivated → the status the user would have: active once activated, else waiting for
    activation (or without e-mail)."""
    if not has_email:
        return UserStatus.NO_EMAIL
    return UserStatus.ACTIVE if activated else UserStatus.PENDING_ACTIVATION

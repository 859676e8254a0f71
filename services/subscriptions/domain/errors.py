"""Errors the subscriptions domain raises, each carrying a message written for a person."""


class SubscriptionDomainError(Exception):
    """A rule of the subscriptions domain said no; `message` tells the person why and what to do."""

    code = "subscription_rule"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DefinitionError(SubscriptionDomainError):
    """The shipped service definitions are malformed (a bug in the data, not in a request)."""

    code = "invalid_definition"


class InvalidTransition(SubscriptionDomainError):
    """A subscription cannot go from its current status through the requested action."""

    code = "invalid_transition"

    def __init__(self, message: str, *, status: str, action: str) -> None:
        super().__init__(message)
        self.status = status
        self.action = action


class LevelTooLow(SubscriptionDomainError):
    """The user's password security level is below the service's minimum."""

    code = "password_level_too_low"

    def __init__(self, message: str, *, required_level: int, user_level: int) -> None:
        super().__init__(message)
        self.required_level = required_level
        self.user_level = user_level


class InvalidExpiry(SubscriptionDomainError):
    """An expiry date that lies in the past."""

    code = "invalid_expiry"


class AlreadySubscribed(SubscriptionDomainError):
    """The user already holds, or already asked for, this service."""

    code = "already_subscribed"


class LastAdministrator(SubscriptionDomainError):
    """The action would leave an account without any administrator."""

    code = "last_administrator"

    def __init__(self, message: str, *, action: str, user_id: str) -> None:
        super().__init__(message)
        self.action = action
        self.user_id = user_id


class NeverAutomatic(SubscriptionDomainError):
    """An administration or supervision service asked to be granted automatically."""

    code = "never_automatic"

    def __init__(self, message: str, *, service_ids: list[str]) -> None:
        super().__init__(message)
        self.service_ids = service_ids


class InvalidFilter(SubscriptionDomainError, ValueError):
    """A list filter with a value outside its vocabulary (an unknown family or status)."""

    code = "invalid_filter"


class InvalidPagination(SubscriptionDomainError, ValueError):
    """A page number or page size outside the accepted range."""

    code = "invalid_pagination"

"""Messages produced by the subscriptions service."""

from bus.contracts import register
from bus.contracts.base import Contract, fields, optional_id, required_id, v, validate
from bus.contracts.batches import BATCH_LIMIT

# Why a subscription changed, so consumers can tell a user's request from a grant, an
# auto-subscription at user creation or an end caused by something else.
CAUSES = (
    "request",  # the user asked (accepted at once, or pending validation)
    "decision",  # an administrator accepted or refused a pending request
    "grant",  # an administrator granted it directly
    "auto_subscribe",  # granted to a new user because the service is "auto"
    "administration_grant",  # the operator created the user as an administrator
    "removal",  # the user or an administrator removed it
    "user_deleted",  # the user was deleted; whatever they held or asked for ended
    "catalog_change",  # the account's contracts no longer give the service
    "expiry",  # its expiry date passed
)


class SubscriptionFields(Contract):
    subscription_id = required_id()
    account_id = required_id()
    user_id = required_id()
    service_id = required_id()
    service_code = fields.String(required=True)
    service_title = fields.String(required=True)
    family = fields.String(required=True, validate=validate.OneOf(v.FAMILIES))
    status = fields.String(required=True, validate=validate.OneOf(v.SUBSCRIPTION_STATUSES))
    expires_on = fields.String(load_default=None, allow_none=True)
    decided_by = optional_id()
    reason = fields.String(load_default=None, allow_none=True)
    # What the gateway needs to decide "administrator of" / "supervisor of" from its projection:
    # the administered account (the account itself for its administration service, the
    # supervised child for a supervision service, with `supervises` true).
    administers_account_id = optional_id()
    supervises = fields.Boolean(load_default=False)
    notifies = fields.String(load_default=None, allow_none=True)
    gates = fields.String(load_default=None, allow_none=True)
    granted_directly = fields.Boolean(load_default=False)
    cause = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(CAUSES))
    # When this change happened (consumers may ignore an older change arriving late), and the
    # lifecycle instants of the subscription.
    changed_at = fields.String(load_default=None, allow_none=True)
    requested_at = fields.String(load_default=None, allow_none=True)
    decided_at = fields.String(load_default=None, allow_none=True)
    # What notifications needs to write to the user, from subscriptions' users projection.
    user_email = fields.String(load_default=None, allow_none=True)
    user_name = fields.String(load_default=None, allow_none=True)
    user_language = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(v.LANGUAGES)
    )
    decided_by_name = fields.String(load_default=None, allow_none=True)
    account_number = fields.String(load_default=None, allow_none=True)
    account_name = fields.String(load_default=None, allow_none=True)


for _name in ("requested", "accepted", "refused", "cancelled", "expired"):
    register(f"subscriptions.subscription.{_name}")(
        type(f"Subscription{_name.title()}", (SubscriptionFields,), {})
    )


@register("subscriptions.service.settings_changed")
class SettingsChanged(Contract):
    account_id = required_id()
    service_ids = fields.List(fields.String(), required=True)
    service_codes = fields.List(fields.String(), load_default=list)
    requires_validation = fields.Boolean(load_default=None, allow_none=True)
    auto_subscribe = fields.Boolean(load_default=None, allow_none=True)
    changed_by = optional_id()
    changed_at = fields.String(load_default=None, allow_none=True)


class GrantedService(Contract):
    """A service the grants of a subscriptions.subscriptions.accepted batch refer to, described
    once for the whole batch (what subscriptions.subscription.accepted repeats per event)."""

    service_id = required_id()
    service_code = fields.String(required=True)
    service_title = fields.String(required=True)
    family = fields.String(required=True, validate=validate.OneOf(v.FAMILIES))
    administers_account_id = optional_id()
    supervises = fields.Boolean(load_default=False)
    notifies = fields.String(load_default=None, allow_none=True)
    gates = fields.String(load_default=None, allow_none=True)


class UserGrants(Contract):
    """One user of a batch, with what notifications needs to write to them, and their new
    subscriptions: the i-th of `subscription_ids` is for the i-th of `service_ids` (two plain
    lists, checked in microseconds where a list of objects took milliseconds per batch)."""

    user_id = required_id()
    user_email = fields.String(load_default=None, allow_none=True)
    user_name = fields.String(load_default=None, allow_none=True)
    user_language = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(v.LANGUAGES)
    )
    subscription_ids = fields.List(
        fields.String(), required=True, validate=validate.Length(max=BATCH_LIMIT)
    )
    service_ids = fields.List(
        fields.String(), required=True, validate=validate.Length(max=BATCH_LIMIT)
    )


@register("subscriptions.subscriptions.accepted")
class SubscriptionsAccepted(Contract):
    """Subscriptions one bulk change accepted at once (the automatic services of the users of an
    identity.users.created batch, a group's grants).

    The batch says each thing once: the services granted (`services`, described as in
    subscriptions.subscription.accepted), then per user (`users`, at most BATCH_LIMIT) the ids
    of their new subscriptions and which service each is for; what every grant of the batch
    shares (accepted when `changed_at`, by `decided_by`, directly, until `expires_on`) is said at
    the top. A producer with more users publishes several events. The first shape, `subscriptions` (each entry with
    subscriptions.subscription.accepted's fields, at most BATCH_LIMIT), is still read.
    """

    account_id = required_id()
    cause = fields.String(required=True, validate=validate.OneOf(CAUSES))
    changed_at = fields.String(load_default=None, allow_none=True)
    decided_by = optional_id()
    decided_by_name = fields.String(load_default=None, allow_none=True)
    expires_on = fields.String(load_default=None, allow_none=True)
    granted_directly = fields.Boolean(load_default=True)
    account_number = fields.String(load_default=None, allow_none=True)
    account_name = fields.String(load_default=None, allow_none=True)
    services = fields.List(
        fields.Nested(GrantedService), load_default=list, validate=validate.Length(max=BATCH_LIMIT)
    )
    users = fields.List(
        fields.Nested(UserGrants), load_default=list, validate=validate.Length(max=BATCH_LIMIT)
    )
    subscriptions = fields.List(
        fields.Nested(SubscriptionFields),
        load_default=list,
        validate=validate.Length(max=BATCH_LIMIT),
    )

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


@register("subscriptions.subscriptions.accepted")
class SubscriptionsAccepted(Contract):
    """Subscriptions one bulk change accepted at once (the automatic services of the users of an
    identity.users.created batch): each entry has subscriptions.subscription.accepted's fields.
    At most BATCH_LIMIT entries; a producer with more publishes several events."""

    account_id = required_id()
    cause = fields.String(required=True, validate=validate.OneOf(CAUSES))
    subscriptions = fields.List(
        fields.Nested(SubscriptionFields), required=True, validate=validate.Length(max=BATCH_LIMIT)
    )

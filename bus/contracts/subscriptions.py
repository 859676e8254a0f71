"""Messages produced by the subscriptions service."""

from bus.contracts import register
from bus.contracts.base import Contract, fields, optional_id, required_id, v, validate


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
    # What the gateway needs to decide "administrator of" / "supervisor of" from its projection.
    administers_account_id = optional_id()
    notifies = fields.String(load_default=None, allow_none=True)
    gates = fields.String(load_default=None, allow_none=True)
    granted_directly = fields.Boolean(load_default=False)


for _name in ("requested", "accepted", "refused", "cancelled", "expired"):
    register(f"subscriptions.subscription.{_name}")(
        type(f"Subscription{_name.title()}", (SubscriptionFields,), {})
    )


@register("subscriptions.service.settings_changed")
class SettingsChanged(Contract):
    account_id = required_id()
    service_ids = fields.List(fields.String(), required=True)
    requires_validation = fields.Boolean(load_default=None, allow_none=True)
    auto_subscribe = fields.Boolean(load_default=None, allow_none=True)
    changed_by = optional_id()

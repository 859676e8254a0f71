"""Messages produced by, or addressed to, the identity service."""

from bus.contracts import register
from bus.contracts.base import Contract, fields, language, optional_id, required_id, v, validate
from bus.contracts.batches import BATCH_LIMIT


class AccountFields(Contract):
    account_id = required_id()
    number = fields.String(required=True)
    name = fields.String(required=True)
    parent_id = optional_id()
    relation = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(v.RELATIONS)
    )


@register("identity.account.created")
class AccountCreated(AccountFields):
    pass


@register("identity.account.linked")
class AccountLinked(AccountFields):
    parent_number = fields.String(load_default=None, allow_none=True)
    parent_name = fields.String(load_default=None, allow_none=True)


class UserFields(Contract):
    user_id = required_id()
    account_id = required_id()
    email = fields.String(load_default=None, allow_none=True)
    title = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(v.TITLES))
    last_name = fields.String(required=True)
    first_name = fields.String(required=True)
    language = language()
    function = fields.String(load_default=None, allow_none=True)
    password_level = fields.Integer(required=True, validate=validate.OneOf(v.PASSWORD_LEVELS))
    status = fields.String(required=True, validate=validate.OneOf(v.USER_STATUSES))


@register("identity.user.created")
class UserCreated(UserFields):
    source = fields.String(required=True, validate=validate.OneOf(v.USER_SOURCES))
    created_by = optional_id()
    grant_administration = fields.Boolean(load_default=False)
    import_job_id = optional_id()
    import_line = fields.Integer(load_default=None, allow_none=True)
    created_at = fields.String(required=True)


@register("identity.user.updated")
class UserUpdated(UserFields):
    changed = fields.List(fields.String(), required=True)


@register("identity.user.deleted")
class UserDeleted(Contract):
    user_id = required_id()
    account_id = required_id()
    email = fields.String(load_default=None, allow_none=True)
    last_name = fields.String(load_default=None, allow_none=True)
    first_name = fields.String(load_default=None, allow_none=True)
    deleted_by = optional_id()


class UserRef(Contract):
    user_id = required_id()
    account_id = required_id()


@register("identity.user.activated")
class UserActivated(UserFields):
    activated_at = fields.String(required=True)


@register("identity.user.locked")
class UserLocked(UserRef):
    until = fields.String(load_default=None, allow_none=True)
    reason = fields.String(load_default="failed_sign_ins")


@register("identity.user.unlocked")
class UserUnlocked(UserRef):
    by = optional_id()


@register("identity.password.changed")
class PasswordChanged(UserRef):
    via = fields.String(
        load_default="change", validate=validate.OneOf(("change", "reset", "activation"))
    )


@register("identity.email.changed")
class EmailChanged(UserRef):
    old_email = fields.String(required=True)
    new_email = fields.String(required=True)


MFA_CHANGES = (
    "totp_enabled",  # an authenticator application was confirmed (recovery codes issued)
    "totp_removed",
    "passkey_added",
    "passkey_removed",
    "recovery_codes_renewed",
    "recovery_code_used",  # a sign-in spent one (`recovery_codes_left` says how many remain)
    "totp_code_reused",  # a code already used was typed again: refused (ASVS V2.8.5)
    "factors_reset",  # an administrator removed every factor of the user
)


@register("identity.mfa.changed")
class MfaChanged(UserRef):
    """A user's second factors changed; the user is e-mailed (notifications)."""

    change = fields.String(required=True, validate=validate.OneOf(MFA_CHANGES))
    by = optional_id()  # who did it: the user, an administrator's id, or "operator"
    name = fields.String(load_default=None, allow_none=True)  # the passkey's, when one
    recovery_codes_left = fields.Integer(load_default=None, allow_none=True)


@register("identity.account.security_changed")
class AccountSecurityChanged(Contract):
    """An account's second-factor policy changed (who must have a factor)."""

    account_id = required_id()
    mfa_required_for = fields.String(
        required=True, validate=validate.OneOf(("nobody", "administrators", "everyone"))
    )
    by = optional_id()


@register("identity.link.issued")
class LinkIssued(Contract):
    purpose = fields.String(required=True, validate=validate.OneOf(v.LINK_PURPOSES))
    user_id = required_id()
    account_id = required_id()
    recipient = fields.String(required=True)
    recipient_name = fields.String(load_default=None, allow_none=True)
    language = language()
    # The raw token is in the URL: kept in the outbox only until the broker has the message.
    link_url = fields.String(required=True, metadata={"secret": True})
    expires_at = fields.String(required=True)
    resent = fields.Boolean(load_default=False)
    old_email = fields.String(load_default=None, allow_none=True)


class CreatedUser(Contract):
    """One user of an identity.users.created batch (identity.user.created's fields)."""

    user_id = required_id()
    email = fields.String(load_default=None, allow_none=True)
    title = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(v.TITLES))
    last_name = fields.String(required=True)
    first_name = fields.String(required=True)
    language = language()
    function = fields.String(load_default=None, allow_none=True)
    password_level = fields.Integer(required=True, validate=validate.OneOf(v.PASSWORD_LEVELS))
    status = fields.String(required=True, validate=validate.OneOf(v.USER_STATUSES))
    grant_administration = fields.Boolean(load_default=False)
    import_line = fields.Integer(load_default=None, allow_none=True)
    created_at = fields.String(required=True)


class Rejection(Contract):
    """One refused line of an import batch (identity.users.created's `rejected`).

    `field` is the file's column or "line"; `message` is the English text. Since the anomalies
    are shown in the reader's language, identity adds the stable `code`, its `params` and
    `messages`, the text in every language the portal speaks ({"en": ..., "fr": ...}, from
    identity's own catalog): the importer, the gateway and notifications show it without
    identity's msgids. The three are optional: an event published before them is read with
    the English `message` alone.
    """

    line = fields.Integer(required=True)
    field = fields.String(required=True)
    message = fields.String(required=True)
    code = fields.String(load_default=None, allow_none=True)
    params = fields.Dict(load_default=None, allow_none=True)
    messages = fields.Dict(load_default=None, allow_none=True)  # {language: text}


@register("identity.users.created")
class UsersCreated(Contract):
    """The users one bulk command created (an import batch: its job, batch and line numbers).

    At most BATCH_LIMIT users; a producer with more publishes several events. For an import
    batch it is also identity's answer: `rejected` holds the batch's refused lines
    ([Rejection]: line, field, message, and code, params, messages), so the importer learns
    every row's fate from this one event.
    """

    account_id = required_id()
    source = fields.String(required=True, validate=validate.OneOf(v.USER_SOURCES))
    created_by = optional_id()
    import_job_id = optional_id()
    batch = fields.Integer(load_default=None, allow_none=True)
    users = fields.List(
        fields.Nested(CreatedUser), required=True, validate=validate.Length(max=BATCH_LIMIT)
    )
    rejected = fields.List(fields.Nested(Rejection), load_default=list)


class IssuedLink(Contract):
    """One link of an identity.links.issued batch."""

    user_id = required_id()
    recipient = fields.String(required=True)
    recipient_name = fields.String(load_default=None, allow_none=True)
    language = language()
    # The raw token is in the URL: kept in the outbox only until the broker has the message.
    link_url = fields.String(required=True, metadata={"secret": True})
    expires_at = fields.String(required=True)


@register("identity.links.issued")
class LinksIssued(Contract):
    """The links one bulk command or request issued: the activation links of an import batch's
    users, or of a mass re-send (`resent`). At most BATCH_LIMIT links per event."""

    purpose = fields.String(required=True, validate=validate.OneOf(v.LINK_PURPOSES))
    account_id = required_id()
    resent = fields.Boolean(load_default=False)
    requested_by = optional_id()
    links = fields.List(
        fields.Nested(IssuedLink), required=True, validate=validate.Length(max=BATCH_LIMIT)
    )


@register("identity.resend_activations")
class ResendActivations(Contract):
    """Command identity sends itself for a mass activation re-send: new links for these users
    of the account (those still pending when it is handled). The request answers 202 once the
    commands are in the outbox; at most BATCH_LIMIT users per command, so each is one
    transaction and one identity.links.issued."""

    account_id = required_id()
    requested_by = optional_id()
    user_ids = fields.List(
        fields.String(), required=True, validate=validate.Length(min=1, max=BATCH_LIMIT)
    )


@register("identity.user.rejected")
class UserRejected(Contract):
    account_id = required_id()
    import_job_id = required_id()
    rejections = fields.List(fields.Dict(), required=True)  # [{line, field, message}]


class ImportRow(Contract):
    """One data line of an import file, as the importer read it.

    Identity checks every value with its own rules and answers an anomaly per field in
    identity.users.batch_processed, so the fields are loosely typed here: one bad row must not
    make the whole batch break its contract (and be dead-lettered).
    """

    line = fields.Integer(required=True)
    title = fields.Raw(load_default=None, allow_none=True)
    last_name = fields.Raw(load_default=None, allow_none=True)
    first_name = fields.Raw(load_default=None, allow_none=True)
    email = fields.Raw(load_default=None, allow_none=True)
    office_phone = fields.Raw(load_default=None, allow_none=True)
    mobile_phone = fields.Raw(load_default=None, allow_none=True)
    language = fields.Raw(load_default=None, allow_none=True)
    password_level = fields.Raw(load_default=None, allow_none=True)


@register("identity.create_users")
class CreateUsers(Contract):
    """Command from the importer: create these rows as users of the account."""

    account_id = required_id()
    import_job_id = required_id()
    batch = fields.Integer(required=True)
    requested_by = optional_id()
    rows = fields.List(
        fields.Nested(ImportRow), required=True, validate=validate.Length(max=BATCH_LIMIT)
    )


@register("identity.users.batch_processed")
class UsersBatchProcessed(Contract):
    """Identity's answer to one create_users batch: every row's fate."""

    account_id = required_id()
    import_job_id = required_id()
    batch = fields.Integer(required=True)
    created = fields.List(fields.Dict(), required=True)  # [{line, user_id, email}]
    # [{line, field, message}]; field is the file's column (civility, last_name, first_name, email,
    # phone, mobile, language, password_level), or "line" for the whole row.
    rejected = fields.List(fields.Dict(), required=True)

"""The e-mails the portal sends: each template's name and the context keys it needs."""

from __future__ import annotations

from dataclasses import dataclass

# Keys every template may use; the renderer supplies `portal_name` ("Portico") and
# `portal_url` (None) when the context does not.
COMMON_OPTIONAL = ("recipient_name", "portal_name", "portal_url")


@dataclass(frozen=True)
class TemplateSpec:
    """One e-mail: who receives it, and which context keys it needs or may use."""

    name: str
    recipient: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def all_keys(self) -> tuple[str, ...]:
        return self.required + self.optional + COMMON_OPTIONAL


_LINK = ("link_url", "expires_at")

TEMPLATES: dict[str, TemplateSpec] = {
    spec.name: spec
    for spec in (
        TemplateSpec("activation", "new user", ("email", *_LINK), ("account_name",)),
        TemplateSpec("activation_resent", "user still pending activation", ("email", *_LINK)),
        TemplateSpec("account_activated", "user who just activated", ("email",)),
        TemplateSpec("password_reset", "user who asked for a reset", _LINK),
        TemplateSpec("password_changed", "user", ("changed_at",)),
        TemplateSpec("login_locked", "locked user", ("email",), ("locked_until",)),
        TemplateSpec(
            "mfa_changed", "user", ("change", "changed_at"), ("passkey_name", "recovery_codes_left")
        ),
        TemplateSpec(
            "mfa_policy_changed",
            "each administrator of the account",
            ("account_name", "mfa_required_for", "changed_at"),
        ),
        TemplateSpec(
            "email_change_confirmation", "the NEW address", ("new_email", *_LINK), ("old_email",)
        ),
        TemplateSpec("email_change_notice", "the OLD address", ("old_email", "new_email")),
        TemplateSpec("subscription_accepted", "subscriber", ("service_title",), ("expires_on",)),
        TemplateSpec(
            "request_pending",
            "each administrator of the account",
            ("requester_name", "requester_email", "service_title", "validation_url"),
            ("account_name", "requested_at"),
        ),
        TemplateSpec(
            "request_accepted",
            "requester",
            ("service_title",),
            ("expires_on", "decided_by_name"),
        ),
        TemplateSpec(
            "request_refused", "requester", ("service_title",), ("reason", "decided_by_name")
        ),
        TemplateSpec("subscription_expired", "subscriber", ("service_title",), ("expired_on",)),
        TemplateSpec(
            "user_deleted",
            "administrator who deleted the user",
            ("user_name", "user_email"),
            ("account_name", "deleted_at"),
        ),
        TemplateSpec(
            "import_finished",
            "administrator who imported the file",
            ("file_name", "rows", "created", "rejected", "anomalies"),
            (
                "finished_at",
                "failed",
                "failed_reason",
                "dry_run",
                "would_create",
                "anomalies_total",
                "report_url",
            ),
        ),
        TemplateSpec(
            "content_published",
            "subscriber of the content's notification service",
            ("kind", "title", "url"),
        ),
    )
}

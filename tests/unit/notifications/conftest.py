"""Fixtures of the notifications unit tests: a renderer and sample e-mail contexts."""

from datetime import UTC, date, datetime

import pytest

from services.notifications.domain.rendering import TEMPLATES, Renderer

LINK = "https://portal.example.test/links/tok-3f9a"

# One value for every context key any template uses; each template picks its own keys.
SAMPLE_VALUES = {
    "recipient_name": "Steven MARKS",
    "portal_url": "https://portal.example.test/",
    "email": "steven.marks@example.test",
    "link_url": LINK,
    "expires_at": datetime(2027, 3, 5, 14, 30, tzinfo=UTC),
    "account_name": "RETAIL IT LIMITED",
    "changed_at": datetime(2027, 3, 1, 9, 5, tzinfo=UTC),
    "locked_until": datetime(2027, 3, 1, 9, 35, tzinfo=UTC),
    "new_email": "steven.new@example.test",
    "old_email": "steven.marks@example.test",
    "service_title": "Invoice viewing service",
    "expires_on": date(2027, 12, 31),
    "requester_name": "Paul GUNTER",
    "requester_email": "paul.gunter@example.test",
    "validation_url": LINK,
    "requested_at": date(2027, 3, 1),
    "decided_by_name": "Mark HUGHES",
    "reason": "Not covered by your contract.",
    "expired_on": date(2027, 4, 1),
    "user_name": "Julia TEST2",
    "user_email": "jtest2@example.test",
    "deleted_at": datetime(2027, 3, 1, 16, 0, tzinfo=UTC),
    "file_name": "users.csv",
    "rows": 3,
    "created": 1,
    "rejected": 2,
    "anomalies": [
        {"line": 2, "field": "email", "message": "is not a valid e-mail address"},
        {"line": 3, "field": None, "message": "repeats line 2"},
    ],
    "finished_at": datetime(2027, 3, 1, 10, 0, tzinfo=UTC),
    "kind": "faq",
    "title": "How to import users",
    "url": LINK,
    "change": "passkey_added",
    "passkey_name": "Work laptop",
    "recovery_codes_left": 9,
    "mfa_required_for": "administrators",
}


@pytest.fixture
def sample_values():
    """Every sample value by key; LINK is the link every sample link key holds."""
    return dict(SAMPLE_VALUES)


@pytest.fixture
def link():
    return LINK


@pytest.fixture(scope="session")
def renderer():
    return Renderer()


@pytest.fixture
def make_context():
    """Build a context for one template: its keys from SAMPLE_VALUES, then the overrides."""

    def make(template, *, optional=True, **overrides):
        spec = TEMPLATES[template]
        keys = spec.all_keys if optional else spec.required
        context = {key: SAMPLE_VALUES[key] for key in keys if key in SAMPLE_VALUES}
        context.update(overrides)
        return context

    return make

"""Records: account-scoped titles, and what a catalog entry says about administration."""

from __future__ import annotations

from services.subscriptions.domain.records import Account, CatalogService, scoped_definition


def entry(code: str) -> CatalogService:
    return CatalogService(
        id="s1",
        account_id="parent",
        code=code,
        family="management",
        title="t",
        description="d",
        min_password_level=1,
        requires_validation=True,
        auto_subscribe=False,
    )


def test_account_scoped_titles_name_the_account_they_are_about():
    child = Account(id="child", number="90293532", name="Retail IT Shop London")
    admin = scoped_definition("user_admin:child", child)
    assert admin.title == "User Management - Administration (90293532 Retail IT Shop London)"
    supervision = scoped_definition("user_admin_supervision:child", child)
    assert supervision.title == (
        "User Management - Administration Supervision of (90293532 Retail IT Shop London)"
    )
    assert "90293532 Retail IT Shop London" in supervision.description


def test_catalog_codes_keep_their_shipped_definition():
    assert scoped_definition("view_faqs", None).title == "View FAQs"


def test_what_a_catalog_entry_administers():
    admin, supervision, plain = (
        entry("user_admin:parent"),
        entry("user_admin_supervision:child"),
        entry("view_faqs"),
    )
    assert (admin.administers_account_id, admin.supervises, admin.is_administration) == (
        "parent",
        False,
        True,
    )
    assert (
        supervision.administers_account_id,
        supervision.supervises,
        supervision.is_administration,
    ) == ("child", True, False)
    assert (plain.administers_account_id, plain.supervises, plain.is_administration) == (
        None,
        False,
        False,
    )

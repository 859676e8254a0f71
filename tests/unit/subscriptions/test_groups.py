"""A directory's groups: which catalog services are groups, and what a change of members does."""

from __future__ import annotations

import pytest

from services.subscriptions.domain.definitions import AccountRef
from services.subscriptions.domain.errors import LastAdministrator
from services.subscriptions.domain.groups import (
    MemberChange,
    MemberPlan,
    ensure_keeps_administrator,
    is_group_of,
    plan_members,
)
from services.subscriptions.domain.records import CatalogService

RETAIL = AccountRef(id="acc-retail", number="90293531", name="RETAIL IT LIMITED")


def service(code: str, account_id: str = RETAIL.id, **changes) -> CatalogService:
    return CatalogService(
        id=f"id-{code}",
        account_id=account_id,
        code=code,
        family="administrative",
        title=code,
        description="",
        min_password_level=1,
        requires_validation=False,
        auto_subscribe=False,
        **changes,
    )


def test_the_catalog_of_the_account_is_its_groups_but_never_its_own_supervision():
    assert is_group_of(service("invoice_viewing"), RETAIL.id)
    assert is_group_of(service(f"user_admin:{RETAIL.id}"), RETAIL.id)
    assert is_group_of(service("user_admin_supervision:acc-shop"), RETAIL.id)
    assert not is_group_of(service(f"user_admin_supervision:{RETAIL.id}"), RETAIL.id)
    assert not is_group_of(service("invoice_viewing", "acc-other"), RETAIL.id)


@pytest.mark.parametrize(
    ("change", "joining", "leaving"),
    [
        (MemberChange("s", add=("c", "a")), ["c"], []),
        (MemberChange("s", remove=("a", "z")), [], ["a"]),
        (MemberChange("s", replace=("b", "c")), ["c"], ["a"]),
        (MemberChange("s", replace=()), [], ["a", "b"]),
        (MemberChange("s", replace=("c",), remove=("c",), add=("a",)), [], ["b"]),
    ],
)
def test_a_change_is_planned_against_the_members(change, joining, leaving):
    assert plan_members(change, {"a", "b"}) == MemberPlan("s", joining, leaving)


def test_the_administration_group_keeps_a_member():
    with pytest.raises(LastAdministrator) as refused:
        ensure_keeps_administrator({"a"}, MemberPlan("s", [], ["a"]), RETAIL)
    assert refused.value.message.startswith("90293531 RETAIL IT LIMITED must keep")
    ensure_keeps_administrator({"a"}, MemberPlan("s", ["b"], ["a"]), RETAIL)
    ensure_keeps_administrator(set(), MemberPlan("s", [], []), RETAIL)

"""A customer's directory sees the account's catalog as groups (SCIM): which services are groups,
and what one change of a group's members does to the subscriptions behind it.

A group is a service of the account's catalog; its members are the users who hold it (accepted,
not past expiry). Adding a member is an administrator's direct grant (no validation; the
password level rule holds), removing one removes the subscription (the last-administrator rule
holds). A supervision service is a group of the supervising account, never of the account it
supervises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bus.i18n import _l

from .administrators import account_label
from .definitions import AccountLike
from .errors import LastAdministrator
from .records import CatalogService


def is_group_of(service: CatalogService, account_id: str) -> bool:
    """Whether the directory of `account_id` sees this catalog service as one of its groups."""
    if service.account_id != account_id or not service.in_catalog:
        return False
    return not (service.supervises and service.administers_account_id == account_id)


@dataclass(frozen=True)
class MemberChange:
    """What a directory asks of one group: members to add, to remove, or the whole new list."""

    service_id: str
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    replace: tuple[str, ...] | None = None

    @property
    def named_users(self) -> set[str]:
        """The users this change would make members (they must belong to the account)."""
        return set(self.add) | set(self.replace or ())


@dataclass
class MemberPlan:
    """One group's change worked out against its holders: who joins, who leaves."""

    service_id: str
    joining: list[str] = field(default_factory=list)
    leaving: list[str] = field(default_factory=list)


def plan_members(change: MemberChange, holders: Iterable[str]) -> MemberPlan:
    """Who joins and who leaves the group; adding a member twice or removing a non-member is
    no change (a directory repeats itself). `replace` comes first, then removals, then additions.
    """
    members = set(holders)
    wanted = set(members)
    if change.replace is not None:
        wanted = set(change.replace)
    wanted -= set(change.remove)
    wanted |= set(change.add)
    return MemberPlan(
        service_id=change.service_id,
        joining=sorted(wanted - members),
        leaving=sorted(members - wanted),
    )


def ensure_keeps_administrator(
    holders: Iterable[str], plan: MemberPlan, account: AccountLike | str | None
) -> None:
    """Raise LastAdministrator when the plan would leave the administration group empty."""
    before = set(holders)
    after = (before - set(plan.leaving)) | set(plan.joining)
    if before and not after:
        raise LastAdministrator(
            _l(
                "{account} must keep at least one administrator; add another member to its"
                " administration group before removing the last one.",
                account=account_label(account),
            ),
            action="cancel",
            user_id=plan.leaving[0],
        )

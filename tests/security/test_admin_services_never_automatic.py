"""Administration and supervision services are never granted automatically (security issue, item 8).

An administrator who could set *User Management - Administration* to automatic would make every new
user an administrator. Subscriptions refuses it (422 naming `auto_subscribe`, nothing changed), the
gateway passes the refusal on, and a catalog row flagged before the rule existed grants nothing.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from services.subscriptions.adapters import orm
from services.subscriptions.domain.administrators import ensure_never_automatic
from services.subscriptions.domain.errors import NeverAutomatic
from services.subscriptions.domain.records import CatalogService
from tests.security.real_portal import start_portal


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    instance = start_portal(tmp_path_factory.mktemp("portal"), f"never-auto-{time.monotonic_ns()}")
    yield instance
    instance.stop()


def catalog(portal, headers, account_id):
    answer = portal.client.get(
        f"/api/v1/accounts/{account_id}/services?per_page=200", headers=headers
    )
    assert answer.status_code == 200, answer.get_json()
    return {service["code"].partition(":")[0]: service for service in answer.get_json()["items"]}


@pytest.mark.parametrize("template", ["user_admin", "user_admin_supervision"])
def test_an_administrator_cannot_make_an_administration_service_automatic(portal, template):
    claire = portal.admin()
    parent = portal.accounts(claire)["90293531"]
    services = catalog(portal, claire, parent)
    target, plain = services[template], services["invoice_viewing"]

    answer = portal.client.patch(
        f"/api/v1/accounts/{parent}/services",
        headers=claire,
        json={"service_ids": [plain["id"], target["id"]], "auto_subscribe": True},
    )

    assert answer.status_code == 422, answer.get_json()
    assert answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert list(problem["errors"]) == ["auto_subscribe"]
    assert target["title"] in problem["detail"] and "administrator" in problem["detail"]
    after = catalog(portal, claire, parent)
    assert after[template]["auto_subscribe"] is False
    assert after["invoice_viewing"]["auto_subscribe"] is plain["auto_subscribe"]  # all or nothing


def test_requires_validation_can_still_be_set_on_it(portal):
    claire = portal.admin()
    parent = portal.accounts(claire)["90293531"]
    admin_service = catalog(portal, claire, parent)["user_admin"]
    answer = portal.client.patch(
        f"/api/v1/accounts/{parent}/services",
        headers=claire,
        json={
            "service_ids": [admin_service["id"]],
            "auto_subscribe": False,
            "requires_validation": True,
        },
    )
    assert answer.status_code == 200, answer.get_json()


def test_a_row_flagged_before_the_rule_makes_no_new_user_an_administrator(portal):
    claire = portal.admin()
    parent = portal.accounts(claire)["90293531"]
    services = catalog(portal, claire, parent)
    subscriptions = portal.embedded.parts["subscriptions"]
    flagged = orm.catalog.c.id.in_(
        [services["user_admin"]["id"], services["user_admin_supervision"]["id"]]
    )
    with subscriptions.engine.begin() as connection:  # as an older version could have left it
        connection.execute(sa.update(orm.catalog).where(flagged).values(auto_subscribe=True))
    try:
        held = create_user_and_read_services(portal, claire, parent, services)
    finally:
        with subscriptions.engine.begin() as connection:
            connection.execute(sa.update(orm.catalog).where(flagged).values(auto_subscribe=False))
    assert "user_admin" not in held and "user_admin_supervision" not in held


def create_user_and_read_services(portal, claire, parent, services):
    """Create a user while notify_faq is automatic; the codes of what they hold once it is granted."""
    assert (
        portal.client.patch(
            f"/api/v1/accounts/{parent}/services",
            headers=claire,
            json={"service_ids": [services["notify_faq"]["id"]], "auto_subscribe": True},
        ).status_code
        == 200
    )

    created = portal.client.post(
        f"/api/v1/accounts/{parent}/users",
        headers=claire,
        json={
            "email": "new.hire@retail-it.example",
            "title": "M",
            "last_name": "Hire",
            "first_name": "New",
            "language": "en-GB",
            "password_level": 3,
        },
    )
    assert created.status_code == 201, created.get_json()
    user_id = created.get_json()["id"]

    deadline, held = time.monotonic() + 60, []
    while time.monotonic() < deadline:  # the creation reaches subscriptions over the bus
        answer = portal.client.get(
            f"/api/v1/accounts/{parent}/users/{user_id}/subscriptions", headers=claire
        )
        if answer.status_code == 200:  # 404 until subscriptions has heard of the user
            held = [
                item["service"]["code"].partition(":")[0] for item in answer.get_json()["items"]
            ]
        if "notify_faq" in held:
            break
        time.sleep(0.05)
    assert "notify_faq" in held, "the automatic service was never granted"
    user = portal.client.get(
        f"/api/v1/accounts/{parent}/users/{user_id}", headers=claire
    ).get_json()
    assert user["is_administrator"] is False
    return held


def test_the_rule_names_every_refused_service():
    plain = CatalogService("1", "a", "faq", "support", "FAQ", "", 1, False, False)
    admin = CatalogService(
        "2",
        "a",
        "user_admin:a",
        "administrative",
        "User Management - Administration (1)",
        "",
        2,
        False,
        False,
    )
    ensure_never_automatic([plain])
    with pytest.raises(NeverAutomatic) as refused:
        ensure_never_automatic([plain, admin])
    assert (
        refused.value.service_ids == ["2"]
        and "User Management - Administration (1)" in refused.value.message
    )

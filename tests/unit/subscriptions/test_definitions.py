"""The shipped service definitions: shape, vocabulary, the manual's services, scoped services."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from bus.contracts.vocabulary import CONTENT_KINDS, FAMILIES, PASSWORD_LEVELS
from services.subscriptions.domain.definitions import (
    GATES,
    AccountRef,
    account_admin_service,
    admin_service_code,
    administered_account,
    default_catalog_codes,
    get_definition,
    load_definitions,
    parse_definitions,
    scope_of,
    service_for_gate,
    services_notifying,
    supervised_account,
    supervision_service,
    supervision_service_code,
)
from services.subscriptions.domain.errors import DefinitionError

RETAIL = AccountRef(id="acc-retail", number="90293531", name="RETAIL IT LIMITED")
SHOP = AccountRef(id="acc-shop", number="980006", name="RETAIL SHOP LYON")

MANUAL_SERVICES = {
    # title: (family, gates)
    "Invoice viewing service": ("administrative", "invoices"),
    "Invoice checking service": ("administrative", None),
    "Intervention reports and attendance sheet viewing service": (
        "administrative",
        "intervention_reports",
    ),
    "Products and contracts viewing": ("administrative", "products_and_contracts"),
    "Planning of services": ("administrative", "planning"),
    "Community area": ("community", None),
    "Receive administrative information": ("information_flow", None),
    "Receive general news updates": ("information_flow", None),
    "Receive sales news": ("information_flow", None),
    "Receive technical support news": ("information_flow", None),
    "SaaS Administrator": ("management", None),
    "Cloud Control Center": ("support", None),
    "Request service": ("support", None),
    "Request service - Administration": ("support", None),
    "Request Service - Supervision": ("support", None),
    "View FAQs": ("support", None),
    "Downloads of updates": ("support", None),
    "Function preferences for: Office and System": ("preferences", None),
    "Function preferences for: Accounting": ("preferences", None),
}

MANUAL_NOTIFICATIONS = {
    "Notification on new FAQ published": "faq",
    "Notification on new Events published": "events",
    "Notification on new help published": "help",
    "Notification on new General information published": "general_information",
    "Notification on new Product information published": "product_information",
    "Notification of new partner information": "partner_information",
    "Notification on new updates for download": "updates",
}


def by_title() -> dict:
    return {service.title: service for service in load_definitions().services}


def test_about_sixty_services_with_unique_codes():
    services = load_definitions().services
    codes = [service.code for service in services]
    assert 55 <= len(services) <= 65
    assert len(set(codes)) == len(codes)
    template_codes = set(load_definitions().templates)
    assert template_codes == {"user_admin", "user_admin_supervision"}
    assert not template_codes & set(codes)


def test_every_definition_uses_the_shared_vocabulary():
    every = list(load_definitions().services) + list(load_definitions().templates.values())
    for service in every:
        assert service.family in FAMILIES, service.code
        assert service.min_password_level in PASSWORD_LEVELS, service.code
        assert service.gates in (None, *GATES), service.code
        assert service.notifies in (None, *CONTENT_KINDS), service.code
        assert service.title.strip() and service.description.strip(), service.code
        assert service.code.isidentifier() and service.code.islower(), service.code
    assert {service.family for service in load_definitions().services} == set(FAMILIES)


def test_wording_is_vendor_neutral():
    text = resources.files("services.subscriptions.domain.data").joinpath("services.json")
    assert "cegid" not in text.read_text(encoding="utf-8").lower()


@pytest.mark.parametrize(("title", "expected"), sorted(MANUAL_SERVICES.items()))
def test_every_service_the_manual_names_is_shipped(title, expected):
    family, gates = expected
    service = by_title()[title]
    assert (service.family, service.gates) == (family, gates)


@pytest.mark.parametrize(("title", "kind"), sorted(MANUAL_NOTIFICATIONS.items()))
def test_each_notification_service_announces_its_content_kind(title, kind):
    service = by_title()[title]
    assert service.family == "notifications"
    assert service.notifies == kind
    assert services_notifying(kind) == [service]


def test_the_manual_also_names_a_store_distributor_and_online_services():
    titles = by_title()
    assert titles["Online store distributor service"].family == "management"
    assert titles["Bank account key conversion"].family == "online_services"
    assert titles["Electronic invoicing"].family == "online_services"
    preferences = [t for t in titles if t.startswith("Function preferences for: ")]
    assert len(preferences) >= 5
    assert all(titles[t].family == "preferences" for t in preferences)


def test_saas_administrator_needs_a_moderate_password_others_default_to_weak():
    titles = by_title()
    assert titles["SaaS Administrator"].min_password_level == 2
    assert titles["Community area"].min_password_level == 1
    assert titles["Invoice viewing service"].code == "invoice_viewing"


def test_each_gate_has_exactly_one_service():
    assert service_for_gate("invoices").code == "invoice_viewing"
    assert service_for_gate("planning").title == "Planning of services"
    assert {service_for_gate(gate).gates for gate in GATES} == set(GATES)
    with pytest.raises(KeyError):
        service_for_gate("payroll")


def test_default_catalog_is_every_catalog_service_and_no_template():
    codes = default_catalog_codes()
    assert codes == [service.code for service in load_definitions().services]
    assert "user_admin" not in codes and "user_admin_supervision" not in codes
    assert "invoice_viewing" in codes and "saas_administrator" in codes


def test_definitions_are_loaded_once_and_lazily():
    load_definitions.cache_clear()
    assert load_definitions.cache_info().currsize == 0
    first = load_definitions()
    assert load_definitions() is first
    assert load_definitions.cache_info().hits >= 1


def test_importing_the_domain_reads_no_file():
    probe = (
        "import services.subscriptions.domain.definitions as d, "
        "services.subscriptions.domain.model, services.subscriptions.domain.catalog, "
        "services.subscriptions.domain.administrators; "
        "print(d.load_definitions.cache_info().currsize)"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "0"


def test_account_admin_service_is_scoped_to_the_account():
    service = account_admin_service(RETAIL)
    assert service.code == "user_admin:acc-retail" == admin_service_code(RETAIL.id)
    assert service.title == "User Management - Administration (90293531 RETAIL IT LIMITED)"
    assert service.family == "management"
    assert service.requires_validation is True
    assert service.template_code == "user_admin"
    assert service.scope_account_id == "acc-retail"


def test_supervision_service_names_the_child_account():
    service = supervision_service(RETAIL, SHOP)
    assert service.code == "user_admin_supervision:acc-shop" == supervision_service_code(SHOP.id)
    assert service.title == (
        "User Management - Administration Supervision of (980006 RETAIL SHOP LYON)"
    )
    assert "980006 RETAIL SHOP LYON" in service.description
    assert service.family == "management"


def test_an_account_cannot_supervise_itself():
    with pytest.raises(ValueError, match="cannot supervise itself"):
        supervision_service(RETAIL, RETAIL)


def test_scoped_codes_are_parsed_back():
    assert scope_of("user_admin:acc-retail") == "acc-retail"
    assert scope_of("invoice_viewing") is None
    assert scope_of("invoice_viewing:acc-retail") is None
    assert administered_account("user_admin:acc-retail") == "acc-retail"
    assert administered_account("user_admin_supervision:acc-shop") is None
    assert supervised_account("user_admin_supervision:acc-shop") == "acc-shop"
    assert supervised_account("user_admin:acc-retail") is None


def test_get_definition_knows_catalog_and_scoped_codes():
    assert get_definition("view_faqs").title == "View FAQs"
    scoped = get_definition("user_admin:acc-retail")
    assert scoped.code == "user_admin:acc-retail" and scoped.family == "management"
    with pytest.raises(KeyError):
        get_definition("no_such_service")
    with pytest.raises(KeyError):
        get_definition("user_admin")


def _document(**service_overrides) -> dict:
    shipped = json.loads(
        resources.files("services.subscriptions.domain.data")
        .joinpath("services.json")
        .read_text(encoding="utf-8")
    )
    shipped["services"][0].update(service_overrides)
    return shipped


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"family": "marketing"}, "family"),
        ({"min_password_level": 4}, "min_password_level"),
        ({"gates": "payslips"}, "gates"),
        ({"notifies": "gossip"}, "notifies"),
        ({"colour": "blue"}, "unknown fields"),
        ({"code": "community_area"}, "duplicate"),
        ({"code": "user_admin:x"}, "code"),
        ({"requires_validation": "yes"}, "booleans"),
    ],
)
def test_malformed_definitions_are_refused_with_the_reason(override, complaint):
    with pytest.raises(DefinitionError, match=complaint):
        parse_definitions(_document(**override))


def test_the_shipped_document_parses():
    assert len(parse_definitions(_document()).services) == len(load_definitions().services)

"""Service definitions: the shipped catalog (data/services.json) and account-scoped services."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from functools import cache
from importlib import resources
from typing import Any, Protocol

from bus.contracts.vocabulary import CONTENT_KINDS, FAMILIES, PASSWORD_LEVELS

from .errors import DefinitionError

GATES = ("invoices", "products_and_contracts", "planning", "intervention_reports")

ADMIN_TEMPLATE = "user_admin"
SUPERVISION_TEMPLATE = "user_admin_supervision"
TEMPLATE_CODES = (ADMIN_TEMPLATE, SUPERVISION_TEMPLATE)
SCOPE_SEPARATOR = ":"

_DATA_PACKAGE = "services.subscriptions.domain.data"
_DATA_FILE = "services.json"
_FIELDS = {
    "code",
    "family",
    "title",
    "description",
    "min_password_level",
    "requires_validation",
    "auto_subscribe",
    "gates",
    "notifies",
}


class AccountLike(Protocol):
    """What scoping a service needs from a client account."""

    @property
    def id(self) -> str: ...

    @property
    def number(self) -> str: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True, slots=True)
class AccountRef:
    """A client account as the domain needs it: its id, client number and name."""

    id: str
    number: str
    name: str


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    """One portal service with its default settings (accounts may override the two flags)."""

    code: str
    family: str
    title: str
    description: str
    min_password_level: int = 1
    requires_validation: bool = False
    auto_subscribe: bool = False
    gates: str | None = None
    notifies: str | None = None

    @property
    def template_code(self) -> str:
        """The code without its account scope (`user_admin:42` → `user_admin`)."""
        return self.code.split(SCOPE_SEPARATOR, 1)[0]

    @property
    def scope_account_id(self) -> str | None:
        """The account an account-scoped service is about, or None for a catalog service."""
        return scope_of(self.code)

    def to_dict(self) -> dict[str, Any]:
        """The definition as JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Definitions:
    """Every shipped definition: the catalog services, in file order, and the two templates."""

    services: tuple[ServiceDefinition, ...]
    templates: dict[str, ServiceDefinition]
    by_code: dict[str, ServiceDefinition]

    def get(self, code: str) -> ServiceDefinition | None:
        """The catalog service with this code, or None."""
        return self.by_code.get(code)


def _definition(raw: dict[str, Any], where: str) -> ServiceDefinition:
    unknown = set(raw) - _FIELDS
    if unknown:
        raise DefinitionError(f"{where}: unknown fields {sorted(unknown)}")
    try:
        service = ServiceDefinition(**raw)
    except TypeError as error:
        raise DefinitionError(f"{where}: {error}") from error
    if not service.code or SCOPE_SEPARATOR in service.code:
        raise DefinitionError(f"{where}: code must be non-empty and contain no ':'")
    if service.family not in FAMILIES:
        raise DefinitionError(f"{where}: family {service.family!r} is not one of {FAMILIES}")
    if not service.title.strip() or not service.description.strip():
        raise DefinitionError(f"{where}: title and description are required")
    if service.min_password_level not in PASSWORD_LEVELS:
        raise DefinitionError(f"{where}: min_password_level must be one of {PASSWORD_LEVELS}")
    if not isinstance(service.requires_validation, bool) or not isinstance(
        service.auto_subscribe, bool
    ):
        raise DefinitionError(f"{where}: requires_validation and auto_subscribe are booleans")
    if service.auto_subscribe and service.code in TEMPLATE_CODES:
        raise DefinitionError(
            f"{where}: administration and supervision services are never automatic"
        )
    if service.gates is not None and service.gates not in GATES:
        raise DefinitionError(f"{where}: gates {service.gates!r} is not one of {GATES}")
    if service.notifies is not None and service.notifies not in CONTENT_KINDS:
        raise DefinitionError(f"{where}: notifies {service.notifies!r} is not a content kind")
    return service


def parse_definitions(document: dict[str, Any]) -> Definitions:
    """Validate a services document (the shape of data/services.json) into definitions."""
    services = tuple(
        _definition(raw, f"services[{index}]")
        for index, raw in enumerate(document.get("services", []))
    )
    templates = tuple(
        _definition(raw, f"templates[{index}]")
        for index, raw in enumerate(document.get("templates", []))
    )
    codes = [service.code for service in services + templates]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise DefinitionError(f"duplicate service codes: {duplicates}")
    by_template = {template.code: template for template in templates}
    if set(by_template) != set(TEMPLATE_CODES):
        raise DefinitionError(f"templates must be exactly {TEMPLATE_CODES}")
    for gate in GATES:
        if sum(service.gates == gate for service in services) != 1:
            raise DefinitionError(f"exactly one service must gate {gate!r}")
    return Definitions(
        services=services,
        templates=by_template,
        by_code={service.code: service for service in services},
    )


@cache
def load_definitions() -> Definitions:
    """The shipped definitions, read and validated on first use, then cached."""
    text = resources.files(_DATA_PACKAGE).joinpath(_DATA_FILE).read_text(encoding="utf-8")
    return parse_definitions(json.loads(text))


def default_catalog_codes() -> list[str]:
    """Codes of the services every new account's catalog starts with (templates excluded)."""
    return [service.code for service in load_definitions().services]


def get_definition(code: str) -> ServiceDefinition:
    """The definition behind any code, catalog or account-scoped; KeyError when unknown.

    For an account-scoped code the title keeps its `{number} {name}` placeholders: the domain
    does not know the account; `account_admin_service` and `supervision_service` fill them.
    """
    template, _, account_id = code.partition(SCOPE_SEPARATOR)
    definitions = load_definitions()
    if account_id and template in definitions.templates:
        return replace(definitions.templates[template], code=code)
    service = definitions.get(code)
    if service is None:
        raise KeyError(code)
    return service


def service_for_gate(gate: str) -> ServiceDefinition:
    """The service whose holders may read the gated content (`invoices`, `planning`, ...)."""
    for service in load_definitions().services:
        if service.gates == gate:
            return service
    raise KeyError(gate)


def services_notifying(kind: str) -> list[ServiceDefinition]:
    """The notification services whose holders hear about newly published content of `kind`."""
    return [service for service in load_definitions().services if service.notifies == kind]


def _scoped(template_code: str, account: AccountLike) -> ServiceDefinition:
    template = load_definitions().templates[template_code]
    label = {"number": account.number, "name": account.name}
    return replace(
        template,
        code=f"{template_code}{SCOPE_SEPARATOR}{account.id}",
        title=template.title.format(**label),
        description=template.description.format(**label),
    )


def account_admin_service(account: AccountLike) -> ServiceDefinition:
    """*User Management - Administration (number name)*: its holders administer `account`."""
    return _scoped(ADMIN_TEMPLATE, account)


def supervision_service(parent: AccountLike, child: AccountLike) -> ServiceDefinition:
    """The service in `parent`'s catalog whose holders administer the third-party `child`.

    Its code names the child (`user_admin_supervision:<child id>`); the parent is the account
    whose catalog holds it, so it is not part of the code.
    """
    if parent.id == child.id:
        raise ValueError("An account cannot supervise itself.")
    return _scoped(SUPERVISION_TEMPLATE, child)


def admin_service_code(account_id: str) -> str:
    """The code of the administration service of an account."""
    return f"{ADMIN_TEMPLATE}{SCOPE_SEPARATOR}{account_id}"


def supervision_service_code(child_account_id: str) -> str:
    """The code of the service that supervises a third-party account."""
    return f"{SUPERVISION_TEMPLATE}{SCOPE_SEPARATOR}{child_account_id}"


def scope_of(code: str) -> str | None:
    """The account id an account-scoped code is about, or None for a catalog code."""
    template, separator, account_id = code.partition(SCOPE_SEPARATOR)
    if separator and template in TEMPLATE_CODES and account_id:
        return account_id
    return None


def administered_account(code: str) -> str | None:
    """The account whose administration service this code is, or None for any other service."""
    template, _, _ = code.partition(SCOPE_SEPARATOR)
    return scope_of(code) if template == ADMIN_TEMPLATE else None


def supervised_account(code: str) -> str | None:
    """The third-party account a supervision service code is about, or None."""
    template, _, _ = code.partition(SCOPE_SEPARATOR)
    return scope_of(code) if template == SUPERVISION_TEMPLATE else None

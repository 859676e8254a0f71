"""Content gated by services (docs/api.md, "Content gated by services"): which service opens which page.

The titles are those of the shipped service definitions; they only serve to tell a person
what to ask for when the gateway's projection knows no holding of the gate yet.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gate:
    name: str  # the `gates` value carried by subscription events
    path: str  # under /api/v1
    service_code: str
    service_title: str


GATES = (
    Gate("invoices", "invoices", "invoice_viewing", "Invoice viewing service"),
    Gate(
        "products_and_contracts",
        "products-and-contracts",
        "products_and_contracts_viewing",
        "Products and contracts viewing",
    ),
    Gate("planning", "planning", "planning_of_services", "Planning of services"),
    Gate(
        "intervention_reports",
        "intervention-reports",
        "intervention_reports_viewing",
        "Intervention reports and attendance sheet viewing service",
    ),
)

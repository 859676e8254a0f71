"""The back office that holds an account's documents (invoices, contracts, planning, reports).

`BackOffice` is what the gateway needs; `DemoBackOffice` invents a few documents per account,
always the same for the same client number, for the embedded mode and tests.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any, Protocol

KINDS = ("invoices", "products_and_contracts", "planning", "intervention_reports")


class BackOffice(Protocol):
    def documents(self, kind: str, account_number: str) -> list[dict[str, Any]]:
        """The account's documents of `kind` (one of KINDS), newest first."""
        ...


class DemoBackOffice:
    """Deterministic made-up documents: a seed from the client number picks counts and amounts."""

    def __init__(self, today: date | None = None) -> None:
        self.today = today or date(2025, 1, 31)

    def documents(self, kind: str, account_number: str) -> list[dict[str, Any]]:
        if kind not in KINDS:
            raise ValueError(f"unknown document kind {kind!r}")
        seed = int(hashlib.sha256(f"{kind}:{account_number}".encode()).hexdigest(), 16)
        count = 2 + seed % 3
        return [getattr(self, f"_{kind}")(account_number, i, seed >> (8 * i)) for i in range(count)]

    def _day(self, months_back: int, seed: int) -> date:
        return self.today - timedelta(days=30 * months_back + seed % 28)

    def _invoices(self, number: str, i: int, seed: int) -> dict[str, Any]:
        issued = self._day(i, seed)
        credit = i == 2
        amount = (seed % 90000 + 1000) / 100
        return {
            "id": f"INV-{number}-{i + 1:03d}",
            "kind": "credit_note" if credit else "invoice",
            "issued_on": issued.isoformat(),
            "due_on": (issued + timedelta(days=30)).isoformat(),
            "amount": -amount if credit else amount,
            "currency": "EUR",
            "label": "Assistance and maintenance" if i % 2 == 0 else "Software subscription",
        }

    def _products_and_contracts(self, number: str, i: int, seed: int) -> dict[str, Any]:
        products = ("Accounting suite", "Payroll", "Point of sale", "Treasury", "Reporting")
        return {
            "id": f"CTR-{number}-{i + 1:03d}",
            "product": products[seed % len(products)],
            "kind": "software" if seed % 4 else "hardware",
            "on_contract": bool(seed % 3),
            "licences": 1 + seed % 20,
            "since": self._day(12 + i * 6, seed).isoformat(),
        }

    def _planning(self, number: str, i: int, seed: int) -> dict[str, Any]:
        kinds = ("on-site intervention", "training", "remote training")
        day = self.today + timedelta(days=7 * (i + 1) + seed % 5)
        return {
            "id": f"PLN-{number}-{i + 1:03d}",
            "date": day.isoformat(),
            "kind": kinds[seed % len(kinds)],
            "start": f"{9 + seed % 5:02d}:00",
            "duration_hours": 2 + seed % 6,
            "webex_code": f"{seed % 1000000000:09d}"
            if kinds[seed % len(kinds)] == "remote training"
            else None,
        }

    def _intervention_reports(self, number: str, i: int, seed: int) -> dict[str, Any]:
        return {
            "id": f"RPT-{number}-{i + 1:03d}",
            "date": self._day(i, seed).isoformat(),
            "technician": ("A. Martin", "C. Dubois", "J. Smith")[seed % 3],
            "summary": ("Installation", "Upgrade", "Training session", "Diagnosis")[seed % 4],
            "attendance_sheet": bool(seed % 2),
            "hours": 1 + seed % 8,
        }

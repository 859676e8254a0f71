"""Pages of a list, as every internal and public API answers them: {items, page, per_page, total}."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bus.http import Problem
from bus.i18n import _l

MAX_PER_PAGE = 200
# Far beyond any real list, and small enough that (page - 1) * per_page fits every database's
# integers (a page of 2**63 overflowed SQLite).
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class Page:
    page: int = 1
    per_page: int = 10

    @classmethod
    def parse(cls, page: Any, per_page: Any, *, default_per_page: int = 10) -> Page:
        """Read `page` and `per_page` from a query string; 422 with a message per field."""
        errors: dict[str, list[str]] = {}
        values: dict[str, int] = {}
        for name, raw, default in (("page", page, 1), ("per_page", per_page, default_per_page)):
            try:
                values[name] = default if raw in (None, "") else int(raw)
            except (TypeError, ValueError):
                errors[name] = [
                    _l(
                        "The {name} must be a whole number.",
                        code="validation.not_a_number",
                        name=name,
                    )
                ]
                continue
            if values[name] < 1:
                errors[name] = [
                    _l("The {name} must be at least 1.", code="validation.out_of_range", name=name)
                ]
        if values.get("page", 0) > MAX_PAGE:
            errors["page"] = [
                _l(
                    "The page must be at most {most}.",
                    code="validation.out_of_range",
                    most=MAX_PAGE,
                )
            ]
        if values.get("per_page", 0) > MAX_PER_PAGE:
            errors["per_page"] = [
                _l(
                    "The per_page must be at most {most}.",
                    code="validation.out_of_range",
                    most=MAX_PER_PAGE,
                )
            ]
        if errors:
            raise Problem(
                422,
                "Unprocessable Content",
                _l("Some fields are not valid; see errors for what to change."),
                errors=errors,
            )
        return cls(values["page"], values["per_page"])

    def answer(
        self, session: Session, query: sa.Select[Any], shape: Callable[[Any], Any]
    ) -> dict[str, Any]:
        """{items, page, per_page, total} of `query` (already ordered), each row through `shape`."""
        total = session.execute(
            sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
        ).scalar_one()
        rows = session.execute(
            query.limit(self.per_page).offset((self.page - 1) * self.per_page)
        ).all()
        return {
            "items": [shape(row) for row in rows],
            "page": self.page,
            "per_page": self.per_page,
            "total": total,
        }

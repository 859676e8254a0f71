"""The importer's unit of work: the bus kit's (with its clock), plus the importer's settings."""

from __future__ import annotations

from typing import Any

from bus.uow import UnitOfWork
from services.importer.config import ImporterConfig


class ImporterUnitOfWork(UnitOfWork):
    """`with uow: ...; uow.commit()`; `uow.now()` reads the part's clock, `uow.config` its
    settings."""

    def __init__(self, *args: Any, config: ImporterConfig | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = config or ImporterConfig()

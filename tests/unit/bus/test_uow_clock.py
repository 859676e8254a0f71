"""A part's units of work tell the time by the part's clock, the one in place when each is made:
a test that replaces `part.clock` moves `uow.now()` and `uow.today()` with it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bus.clock import FakeClock
from bus.config import Settings
from bus.db import bus_tables
from bus.part import Part
from bus.uow import UnitOfWork


class GreetingUnitOfWork(UnitOfWork):
    def __init__(self, *args: Any, greeting: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.greeting = greeting


class GreetingPart(Part):
    def uow_dependencies(self) -> dict[str, str]:
        return {"greeting": "hello"}


def make_part(tmp_path: Path, part_class: type[Part] = Part, **options: Any) -> Part:
    metadata = sa.MetaData()
    bus_tables(metadata)
    settings = Settings(part="identity", database_url=f"sqlite:///{tmp_path}/uow.db")
    return part_class(settings, metadata, {}, tmp_path, **options)


def test_uow_reads_the_clock_the_part_has_when_it_is_made(tmp_path):
    part = make_part(tmp_path)
    part.clock = FakeClock(datetime(2030, 5, 17, 23, 30, tzinfo=UTC))
    uow = part.uow()
    assert uow.now() == datetime(2030, 5, 17, 23, 30, tzinfo=UTC)
    assert uow.today() == date(2030, 5, 17)

    part.clock.advance(timedelta(hours=1))
    assert part.uow().today() == date(2030, 5, 18)

    part.clock = FakeClock(datetime(2031, 1, 1, tzinfo=UTC))  # replaced, as tests do
    assert part.uow().now() == datetime(2031, 1, 1, tzinfo=UTC)


def test_a_parts_own_unit_of_work_gets_its_dependencies_and_the_clock(tmp_path):
    part = make_part(tmp_path, GreetingPart, uow_class=GreetingUnitOfWork)
    part.clock = FakeClock(datetime(2030, 5, 17, tzinfo=UTC))
    uow = part.uow()
    assert isinstance(uow, GreetingUnitOfWork)
    assert uow.greeting == "hello"
    assert uow.now() == datetime(2030, 5, 17, tzinfo=UTC)

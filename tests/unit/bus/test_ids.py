"""bus.ids.uuid4_strings: what str(uuid.uuid4()) gives, many at once."""

from __future__ import annotations

import uuid

from bus.ids import uuid4_strings


def test_every_id_is_a_random_uuid_written_as_uuid_writes_it() -> None:
    ids = uuid4_strings(5000)
    assert len(ids) == 5000 and len(set(ids)) == 5000
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_no_ids_for_none_asked() -> None:
    assert uuid4_strings(0) == []

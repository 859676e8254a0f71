"""Rows stream in bounded memory: a million-row upload is never held whole."""

from __future__ import annotations

import os
import sys
import tracemalloc
from collections.abc import Iterator

import pytest

from services.importer.domain import RowChecker, parse_upload
from services.importer.domain.seen import SeenEmails

MB = 1024 * 1024


def lowercase_only(text: str) -> str:
    """Stands in for email-validator (~30 µs a row), so a million rows stay quick to check."""
    return text.lower()


class Producer:
    """Generates upload bytes on demand and counts how many were asked for."""

    def __init__(self, rows: int, padding: int = 0) -> None:
        self.rows, self.padding, self.produced = rows, padding, 0

    def chunks(self) -> Iterator[bytes]:
        yield b"Civility;Last name;First name;Email address;Phone;Mobile;Language code;Level\n"
        pad = "x" * (self.padding // 2)
        for start in range(0, self.rows, 1000):
            block = "".join(
                f"M;Martin{pad}{n};Paul{pad}{n};paul.martin{n}@example.com;;;fr-FR;2\n"
                for n in range(start, min(start + 1000, self.rows))
            ).encode()
            self.produced += len(block)
            yield block


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_a_million_row_stream_is_checked_lazily_in_bounded_memory(generated_stream) -> None:
    # tracemalloc slows each allocation about tenfold, too slow for a million rows in a unit
    # test: here the resident size is sampled; the next test uses tracemalloc on fewer rows.
    producer = Producer(1_000_000)
    baseline = peak = resident_bytes()

    parsed = parse_upload(generated_stream(producer.chunks()), "big.csv", max_bytes=200 * MB)
    assert producer.produced < 2 * MB, "parse_upload checks a prefix, not the whole stream"

    count = valid = 0
    for result in parsed.rows(RowChecker(check_email=lowercase_only)):
        count += 1
        valid += result.ok
        if count % 50_000 == 0:
            peak = max(peak, resident_bytes())
            assert producer.produced < count * 70 + 2 * MB, "bytes are read as rows are needed"

    assert count == valid == 1_000_000
    assert producer.produced > 60 * MB
    assert peak - baseline < 50 * MB


def test_peak_memory_of_checking_rows_stays_far_below_the_file_size(generated_stream) -> None:
    producer = Producer(20_000, padding=160)  # about 5 MB of rows
    tracemalloc.start()
    try:
        parsed = parse_upload(generated_stream(producer.chunks()), "big.csv", max_bytes=50 * MB)
        results = parsed.rows(RowChecker(check_email=lowercase_only))
        assert sum(result.ok for result in results) == 20_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert producer.produced > 4 * MB
    assert peak < 2.5 * MB


def test_the_email_index_needs_about_twenty_bytes_an_address() -> None:
    seen = SeenEmails()
    for n in range(100_000):
        assert seen.first_line(f"person{n}@example.com", n + 1) is None
    assert seen.first_line("person4242@example.com", 999_999) == 4243
    assert len(seen) == 100_000
    stored = sum(table.buffer_info()[1] * table.itemsize for table in seen._digests + seen._lines)
    assert stored < 100_000 * 32

"""Turn byte chunks into CSV records that know their physical line numbers, in bounded memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from bus.i18n import _l

# A physical line longer than this (in characters) is skipped and reported, never parsed:
# no legitimate import line comes close, and it keeps one line's memory bounded.
MAX_LINE_CHARS = 1 << 20


class Record(NamedTuple):
    """One CSV record: its first and last physical lines, and its fields or, when it cannot be
    used, `problem` (a person-facing message)."""

    first_line: int
    last_line: int
    fields: list[str] | None
    problem: str | None = None

    @property
    def blank(self) -> bool:
        return self.fields is not None and not any(map(str.strip, self.fields))


class ChunkStream(io.RawIOBase):
    """A raw, read-only binary stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def text_lines(
    chunks: Iterable[bytes], encoding: str, line_problems: dict[int, str]
) -> Iterator[str]:
    """Physical lines (CRLF, LF or CR kept at the end) decoded from `chunks`.

    Bytes that do not decode become lone surrogates (surrogateescape); such a line, and a line
    longer than MAX_LINE_CHARS (yielded as an empty line), is noted in `line_problems`.
    """
    text = io.TextIOWrapper(
        io.BufferedReader(ChunkStream(chunks)),
        encoding=encoding,
        errors="surrogateescape",
        newline="",
    )
    number = 0
    with text:
        while line := text.readline(MAX_LINE_CHARS):
            number += 1
            if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
                while (rest := text.readline(MAX_LINE_CHARS)) and not rest.endswith(("\n", "\r")):
                    pass
                line_problems[number] = _l(
                    "This line is longer than {limit} characters and was not read."
                    " Check that the file is a list of users, one per line.",
                    code="import.line_too_long",
                    limit=MAX_LINE_CHARS,
                )
                yield "\n"
                continue
            if not line.isascii() and _has_surrogate(line):
                line_problems[number] = _l(
                    "This line contains characters that are not valid {encoding}."
                    " Save the file as 'CSV UTF-8' and import it again.",
                    code="import.line_encoding",
                    encoding=_encoding_name(encoding),
                )
            yield line


def _has_surrogate(line: str) -> bool:
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _encoding_name(encoding: str) -> str:
    return "Windows-1252" if encoding == "cp1252" else "UTF-8"


def records(lines: Iterable[str], delimiter: str) -> Iterator[Record]:
    """CSV records (RFC 4180 quoting) with the physical lines each one spans."""
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    last = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Record(last + 1, max(reader.line_num, last + 1), None, _unreadable(exc))
        else:
            yield Record(last + 1, reader.line_num, fields)
        last = max(reader.line_num, last + 1)


def _unreadable(error: csv.Error) -> str:
    # Python's own (English) reason goes in params.error only, never in the sentence.
    return _l(
        "This line could not be read as CSV, most often because a field starts with a double"
        ' quote (") that is never closed. End such a field with a quote, write a quote inside'
        ' a field as "", then import the line again.',
        code="import.line_unreadable",
        error=str(error),
    )

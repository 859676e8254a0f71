"""File-level checks of an uploaded import file, then its rows, streamed in bounded memory."""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from bus.i18n import _l, code_of, joined

from .header import HeaderVerdict
from .model import COLUMNS, LINE, Anomaly, FileRejected, RowResult
from .records import Record, records, text_lines
from .rows import RowChecker, without_trailing_empty

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
# How much of a stream that cannot be rewound is checked before the first row is read.
SNIFF_BYTES = 1 << 20
_CHUNK = 64 * 1024
_BINARY_SAMPLE = 1024

_EXAMPLE = "MME;Dupont;Lovana;ldupont@company.ws;;;en-US;3"
_HEADER = "Civility;Last name;First name;Email address;Phone;Mobile;Language code;Security level"
_REPEATED_HEADER = _l(
    "This line repeats the header line: remove it.", code="import.header_repeated"
)
_UNREADABLE_LINE = _l("This line could not be read.", code="import.line_unreadable")
_SAVE_AS_CSV = _l("In Excel, use File > Save As and choose 'CSV UTF-8', then import that file.")

_SIGNATURES = (
    (b"PK\x03\x04", _l("an Excel workbook or a zip archive")),
    (b"\xd0\xcf\x11\xe0", _l("an Excel 97-2003 workbook")),
    (b"%PDF", _l("a PDF document")),
    (b"\x89PNG", _l("a PNG image")),
    (b"\xff\xd8\xff", _l("a JPEG image")),
    (b"GIF8", _l("a GIF image")),
    (b"\x1f\x8b", _l("a gzip archive")),
    (b"\x00\x00\xfe\xff", _l("UTF-32 text")),
    (b"\xff\xfe\x00\x00", _l("UTF-32 text")),
    (b"\xff\xfe", _l("UTF-16 text")),
    (b"\xfe\xff", _l("UTF-16 text")),
)
_SPLIT = _l("Split it into several files and import them one after the other.")
_CONTROL_BYTES = frozenset(range(0x20)) - {0x09, 0x0A, 0x0D} | {0x7F}


def parse_upload(
    stream: BinaryIO, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedFile:
    """Check an uploaded file as a whole; raise FileRejected, or return it ready to read rows.

    A seekable stream is checked from end to end (in chunks) and can be read many times. Of a
    stream that cannot be rewound only the first SNIFF_BYTES are checked up front; the rest is
    checked while rows are read (a line that does not decode becomes that line's anomaly, and
    going over `max_bytes` raises FileRejected from `rows()`), and it can be read once.
    """
    _check_extension(filename)
    source = _Source(stream, max_bytes)
    sample = next(source.scan_chunks(), b"")[:_BINARY_SAMPLE]
    if not sample:
        raise FileRejected(
            "empty",
            _l("The file is empty."),
            _l("Add one line per user, for example: {example}", example=_EXAMPLE),
        )
    _check_text(sample)
    encoding = _detect_encoding(source, sample)
    layout = None
    if not _has_semicolon_outside_quotes(source, encoding):
        layout = _scan(source, encoding, ",")
    if layout is None or not layout.has_separator:
        layout = _scan(source, encoding, ";")
    _check_layout(layout)
    return ParsedFile(filename, source, encoding, layout, sample.startswith(codecs.BOM_UTF8))


class ParsedFile:
    """An upload that passed the file-level checks; `rows()` reads and checks its lines.

    Attributes: filename; encoding ("utf-8" or "cp1252"); has_bom; separator (";" or ",");
    has_header; size in bytes (None for a long stream that cannot be rewound).
    """

    def __init__(
        self, filename: str, source: _Source, codec: str, layout: _Layout, has_bom: bool
    ) -> None:
        self.filename = filename
        self.encoding = "cp1252" if codec == "cp1252" else "utf-8"
        self.has_bom = has_bom
        self.separator = layout.separator
        self.has_header = layout.header_line is not None
        self.size = source.size
        self._source = source
        self._codec = codec
        self._layout = layout

    def rows(self, checker: RowChecker | None = None) -> Iterator[RowResult]:
        """One RowResult per data line, in file order (blank lines and the header are skipped).

        `checker` defaults to a fresh RowChecker; each call starts again from the first line.
        """
        checker = checker or RowChecker(self.separator)
        for record in self._data_records():
            line, fields = record.first_line, record.fields
            if fields is None:
                problem = record.problem or _UNREADABLE_LINE
                yield RowResult(line, None, [Anomaly(line, LINE, problem)])
            elif record.last_line > line and _column_count(fields) != len(COLUMNS):
                yield RowResult(line, None, [Anomaly(line, LINE, _unclosed_quote(record))])
            else:
                result = checker.check(line, fields)
                if not result.ok and HeaderVerdict(fields).is_header:
                    result = RowResult(line, None, [Anomaly(line, LINE, _REPEATED_HEADER)])
                yield result

    def count_rows(self) -> int:
        """How many RowResults `rows()` yields; free when the whole file was checked up front."""
        if self._layout.complete:
            return self._layout.data_rows
        return sum(1 for _ in self._data_records())

    def _data_records(self) -> Iterator[Record]:
        return _meaningful(
            self._source.chunks(), self._codec, self.separator, self._layout.header_line
        )


def _meaningful(
    chunks: Iterator[bytes], codec: str, separator: str, header_line: int | None = None
) -> Iterator[Record]:
    """Records that are not blank or that have a problem (line problems take precedence),
    except the one starting on `header_line`."""
    line_problems: dict[int, str] = {}
    for record in records(text_lines(chunks, codec, line_problems), separator):
        if record.first_line == header_line:
            continue
        if line_problems:
            found = [
                line_problems.pop(number)
                for number in range(record.first_line, record.last_line + 1)
                if number in line_problems
            ]
            if found:
                problem = found[0] if len(found) == 1 else joined(found, code=code_of(found[0]))
                yield record._replace(fields=None, problem=problem)
                continue
        if record.problem is not None or not record.blank:
            yield record


def _unclosed_quote(record: Record) -> str:
    return _l(
        'This line runs on to line {last_line}: a double quote (") opens a field that'
        " is not closed where expected. End the field with a quote, or remove the quote.",
        code="import.unclosed_quote",
        last_line=record.last_line,
    )


def _column_count(fields: list[str]) -> int:
    return len(without_trailing_empty(fields))


class _Source:
    """The upload's bytes: re-readable when the stream is seekable, else a checked prefix."""

    def __init__(self, stream: BinaryIO, max_bytes: int) -> None:
        self._stream = stream
        self._max_bytes = max_bytes
        self._consumed = False
        self._prefix: bytearray | None = None
        if _seekable(stream):
            self._start = stream.tell()
            self.size: int | None = stream.seek(0, io.SEEK_END) - self._start
            stream.seek(self._start)
            _check_size(self.size, max_bytes)
            self.complete = True
        else:
            self._prefix = _read_at_most(stream, SNIFF_BYTES + 1)
            self.complete = len(self._prefix) <= SNIFF_BYTES
            self.size = len(self._prefix) if self.complete else None
            _check_size(len(self._prefix), max_bytes, exact=self.complete)

    def scan_chunks(self) -> Iterator[bytes]:
        """What is checked up front: the whole file, or the prefix up to its last line break."""
        if self._prefix is None:
            return self._read_from_start()
        if self.complete:
            return _slices(self._prefix, len(self._prefix))
        cut = max(self._prefix.rfind(b"\n"), self._prefix.rfind(b"\r")) + 1
        return _slices(self._prefix, cut or len(self._prefix))

    def chunks(self) -> Iterator[bytes]:
        """Every byte of the file, from its start."""
        if self._prefix is None:
            return self._read_from_start()
        if self.complete:
            return _slices(self._prefix, len(self._prefix))
        return self._read_rest_once()

    def _read_from_start(self) -> Iterator[bytes]:
        position = self._start
        while True:
            self._stream.seek(position)
            chunk = self._stream.read(_CHUNK)
            if not chunk:
                return
            position += len(chunk)
            _check_size(position - self._start, self._max_bytes)
            yield chunk

    def _read_rest_once(self) -> Iterator[bytes]:
        if self._consumed:
            raise RuntimeError("This upload's stream cannot be rewound: its rows can be read once.")
        self._consumed = True
        prefix, self._prefix = self._prefix or bytearray(), bytearray()  # free it once read
        total = len(prefix)
        yield from _slices(prefix, total)
        del prefix
        while chunk := self._stream.read(_CHUNK):
            total += len(chunk)
            _check_size(total, self._max_bytes, exact=False)
            yield chunk


def _slices(data: bytes | bytearray, end: int) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, end, _CHUNK):
        yield bytes(view[start : min(start + _CHUNK, end)])


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def _read_at_most(stream: BinaryIO, limit: int) -> bytearray:
    buffer = bytearray()
    while len(buffer) < limit and (chunk := stream.read(min(_CHUNK, limit - len(buffer)))):
        buffer += chunk
    return buffer


def _check_extension(filename: str) -> None:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name.lower().endswith(".csv"):
        return
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension in ("xlsx", "xls", "xlsm", "ods"):
        hint = _l("This is a spreadsheet (.{extension}).", extension=extension)
    else:
        hint = _l("Save the list of users as a .csv file.")
    raise FileRejected(
        "extension",
        _l("Only .csv files can be imported, and '{name}' is not one.", name=name),
        joined([hint, _SAVE_AS_CSV]),
    )


def _check_size(size: int, max_bytes: int, *, exact: bool = True) -> None:
    if size <= max_bytes:
        return
    if exact:
        stated = _l(
            "The file is {size}; at most {most} can be imported at once.",
            size=_size_text(size),
            most=_size_text(max_bytes),
        )
    else:
        stated = _l(
            "The file is larger than {most}; at most {most} can be imported at once.",
            most=_size_text(max_bytes),
        )
    raise FileRejected("too_large", stated, _SPLIT)


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")
    if size >= 1024:
        return f"{size // 1024} KB"
    return f"{size} bytes"


def _check_text(sample: bytes) -> None:
    """Refuse content that is not text: known binary formats, or many control bytes."""
    for signature, kind in _SIGNATURES:
        if sample.startswith(signature):
            raise FileRejected(
                "binary",
                _l("This file is not a CSV text file: it looks like {kind}.", kind=kind),
                _SAVE_AS_CSV,
            )
    if len(sample) >= 8 and max(sample[0::2].count(0), sample[1::2].count(0)) > len(sample) // 4:
        raise FileRejected(
            "binary",
            _l("This file is not a CSV text file: it looks like {kind}.", kind=_l("UTF-16 text")),
            _SAVE_AS_CSV,
        )
    controls = sum(byte in _CONTROL_BYTES for byte in sample)
    if controls > 2 and controls > 0.05 * len(sample):
        raise FileRejected(
            "binary",
            _l("This file is not a CSV text file: it contains binary data."),
            _SAVE_AS_CSV,
        )


def _detect_encoding(source: _Source, sample: bytes) -> str:
    """'utf-8-sig' (with or without BOM) when every byte decodes as UTF-8, else 'cp1252'."""
    bad_line = _first_undecodable_line(source.scan_chunks(), "utf-8")
    if bad_line is None:
        return "utf-8-sig"
    if sample.startswith(codecs.BOM_UTF8):
        raise FileRejected(
            "encoding",
            _l(
                "The file is marked as UTF-8 text, but line {line} contains characters that are"
                " not UTF-8.",
                line=bad_line,
            ),
            _SAVE_AS_CSV,
        )
    bad_line = _first_undecodable_line(source.scan_chunks(), "cp1252")
    if bad_line is None:
        return "cp1252"
    raise FileRejected(
        "encoding",
        _l(
            "The characters of this file cannot be read (first at line {line}): it is neither"
            " UTF-8 nor Windows-1252 text.",
            line=bad_line,
        ),
        _SAVE_AS_CSV,
    )


def _first_undecodable_line(chunks: Iterator[bytes], encoding: str) -> int | None:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    breaks, after_cr = 0, False
    for chunk in _with_end(chunks):
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            return breaks + _line_breaks(exc.object[: exc.start], after_cr) + 1
        breaks += _line_breaks(chunk, after_cr)
        after_cr = chunk.endswith(b"\r") if chunk else after_cr
    return None


def _with_end(chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield from chunks
    yield b""


def _line_breaks(data: bytes, after_cr: bool) -> int:
    count = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return count - 1 if after_cr and data.startswith(b"\n") else count


def _has_semicolon_outside_quotes(source: _Source, codec: str) -> bool:
    """Whether any ';' stands outside double quotes (so ',' cannot be the separator)."""
    in_quotes = False
    for line in text_lines(source.scan_chunks(), codec, {}):
        start = 0
        while True:
            quote = line.find('"', start)
            end = len(line) if quote < 0 else quote
            if not in_quotes and line.find(";", start, end) >= 0:
                return True
            if quote < 0:
                break
            in_quotes, start = not in_quotes, quote + 1
    return False


@dataclass(frozen=True, slots=True)
class _Layout:
    """What a pass over the checked bytes learnt with one separator."""

    separator: str
    has_separator: bool
    header_line: int | None
    misplaced: tuple[str, ...]
    data_rows: int
    well_formed: int
    complete: bool


def _scan(source: _Source, codec: str, separator: str) -> _Layout:
    has_separator = False
    header_line: int | None = None
    misplaced: tuple[str, ...] = ()
    first, data_rows, well_formed = True, 0, 0
    for record in _meaningful(source.scan_chunks(), codec, separator):
        fields = record.fields
        if fields is not None and len(fields) > 1:
            has_separator = True
        if first and fields is not None:
            first = False
            verdict = HeaderVerdict(fields)
            if verdict.is_header:
                header_line, misplaced = record.first_line, tuple(verdict.misplaced)
                continue
        first = False
        data_rows += 1
        if fields is not None and _column_count(fields) == len(COLUMNS):
            well_formed += 1
    return _Layout(
        separator, has_separator, header_line, misplaced, data_rows, well_formed, source.complete
    )


def _check_layout(layout: _Layout) -> None:
    if layout.misplaced:
        raise FileRejected(
            "header",
            _l("The header line names the columns in another order than expected."),
            _l(
                "Put the columns in this order: {header} (or remove the header line).",
                header=_HEADER,
            ),
        )
    if layout.data_rows == 0:
        if layout.header_line is not None:
            raise FileRejected(
                "no_rows",
                _l("The file has a header line but no user lines."),
                _l(
                    "Add one line per user below the header, for example: {example}",
                    example=_EXAMPLE,
                ),
            )
        raise FileRejected(
            "empty",
            _l("The file contains no user lines."),
            _l("Add one line per user, for example: {example}", example=_EXAMPLE),
        )
    if layout.well_formed == 0:
        raise FileRejected(
            "columns",
            _l("No line has the {n} expected columns separated by ';'.", n=len(COLUMNS)),
            _l(
                "Each line must read: {header} — for example: {example}",
                header=_HEADER.lower(),
                example=_EXAMPLE,
            ),
        )

"""File-level checks of parse_upload: what is refused at once, and how the file is read."""

from __future__ import annotations

import io

import pytest

from services.importer.domain import DEFAULT_MAX_BYTES, FileRejected, parse_upload, upload
from services.importer.domain.records import MAX_LINE_CHARS

HEADER = "Civility;Last name;First name;Email address;Phone;Mobile;Language code;Security level"


@pytest.fixture
def sniff_bytes(monkeypatch) -> int:
    """Check only 4 KB of a stream that cannot be rewound, so tests need few lines."""
    monkeypatch.setattr(upload, "SNIFF_BYTES", 4096)
    return 4096


class NoReading(io.BytesIO):
    """A seekable upload that fails the test if its content is read."""

    def read(self, size: int | None = -1) -> bytes:
        raise AssertionError("the content was read")


@pytest.mark.parametrize("filename", ["users.csv", "USERS.CSV", "Users.Csv", r"C:\fakepath\u.csv"])
def test_csv_extension_is_accepted_in_any_case(make_csv, user_line, filename) -> None:
    assert parse_upload(make_csv(user_line(1)), filename).count_rows() == 1


@pytest.mark.parametrize(
    ("filename", "advice"),
    [
        ("users.xlsx", "spreadsheet (.xlsx)"),
        ("users.xls", "spreadsheet (.xls)"),
        ("users.txt", "Save the list of users as a .csv file"),
        ("users.csv.exe", "Save the list of users as a .csv file"),
        ("users", "Save the list of users as a .csv file"),
    ],
)
def test_other_extensions_are_refused_before_reading(filename, advice) -> None:
    with pytest.raises(FileRejected) as caught:
        parse_upload(NoReading(b"M;A;B;a@b.com;;;en-US;1\n"), filename)
    assert caught.value.code == "extension"
    assert filename in caught.value.messages[0]
    assert advice in caught.value.messages[1]


def test_size_cap_is_checked_before_reading_a_seekable_upload() -> None:
    with pytest.raises(FileRejected) as caught:
        parse_upload(NoReading(b"x" * 2_000_000), "big.csv", max_bytes=1024 * 1024)
    assert caught.value.code == "too_large"
    assert caught.value.messages == [
        "The file is 1.9 MB; at most 1 MB can be imported at once.",
        "Split it into several files and import them one after the other.",
    ]


def test_size_cap_defaults_to_20_mb() -> None:
    assert DEFAULT_MAX_BYTES == 20 * 1024 * 1024
    with pytest.raises(FileRejected, match="at most 20 MB"):
        parse_upload(NoReading(bytes(DEFAULT_MAX_BYTES + 1)), "u.csv")


def test_size_cap_of_a_stream_that_cannot_be_rewound(
    generated_stream, user_line, sniff_bytes
) -> None:
    line = (user_line(1) + "\n").encode()
    with pytest.raises(FileRejected, match="The file is larger than 1 KB; at most 1 KB"):
        parse_upload(generated_stream([line * 100]), "u.csv", max_bytes=1024)

    many = sniff_bytes // len(line) + 1000
    limit = 5 * 1024
    parsed = parse_upload(generated_stream(line for _ in range(many)), "u.csv", max_bytes=limit)
    with pytest.raises(FileRejected) as caught:
        for _ in parsed.rows():
            pass
    assert caught.value.code == "too_large"
    assert (
        caught.value.messages[0]
        == "The file is larger than 5 KB; at most 5 KB can be imported at once."
    )


def test_upload_is_read_from_the_stream_current_position(user_line) -> None:
    stream = io.BytesIO(b"preamble that is not ours\n" + (user_line(1) + "\n").encode())
    stream.seek(26)
    parsed = parse_upload(stream, "u.csv")
    assert [row.line for row in parsed.rows()] == [1]
    assert parsed.size == len(stream.getvalue()) - 26


def test_seekable_upload_can_be_read_again_and_counted(make_csv, user_line) -> None:
    parsed = parse_upload(make_csv(HEADER, user_line(1), "", user_line(2)), "u.csv")
    first = [row.line for row in parsed.rows()]
    assert first == [row.line for row in parsed.rows()] == [2, 4]
    assert parsed.count_rows() == 2
    assert parsed.has_header and parsed.separator == ";" and parsed.encoding == "utf-8"


def test_stream_that_cannot_be_rewound_is_read_once(
    generated_stream, user_line, sniff_bytes
) -> None:
    line = (user_line(1) + "\n").encode()
    parsed = parse_upload(generated_stream(line for _ in range(sniff_bytes // 40)), "u.csv")
    assert sum(1 for _ in parsed.rows()) == sniff_bytes // 40
    with pytest.raises(RuntimeError, match="read once"):
        next(parsed.rows())


def test_small_stream_that_cannot_be_rewound_is_kept_whole(generated_stream, user_line) -> None:
    parsed = parse_upload(generated_stream([(user_line(1) + "\n").encode()]), "u.csv")
    assert parsed.size is not None
    assert len(list(parsed.rows())) == len(list(parsed.rows())) == parsed.count_rows() == 1


def test_bytes_that_do_not_decode_after_the_checked_prefix_spoil_only_their_line(
    generated_stream, user_line, sniff_bytes
) -> None:
    def chunks():
        for n in range(1, sniff_bytes // 40):
            yield (user_line(n) + "\n").encode()
        yield user_line(0, last_name="Caf\xe9").encode("cp1252") + b"\n"
        yield (user_line(-1) + "\n").encode()

    rows = list(parse_upload(generated_stream(chunks()), "u.csv").rows())
    bad = [row for row in rows if not row.ok]
    assert [(a.line, a.field) for row in bad for a in row.anomalies] == [(len(rows) - 1, "line")]
    assert "not valid UTF-8" in bad[0].anomalies[0].message
    assert rows[-1].ok


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (b"", "empty", "The file is empty."),
        (b"\n\r\n  \n;;;;;;;\n", "empty", "The file contains no user lines."),
        ((HEADER + "\n\n").encode(), "no_rows", "The file has a header line but no user lines."),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "binary", "it looks like a PNG image"),
        (b"%PDF-1.7\n" + bytes(100), "binary", "it looks like a PDF document"),
        ("M;Ä;B;a@b.com;;;en-US;1\n".encode("utf-16-le"), "binary", "looks like UTF-16 text"),
        (bytes(range(32)) * 8, "binary", "contains binary data"),
        (b"M;\xff\xfe\x81;B;a@b.com;;;en-US;1\n", "encoding", "neither UTF-8 nor Windows-1252"),
        (b"M;Martin;Paul\n", "columns", "No line has the 8 expected columns"),
    ],
)
def test_file_level_errors_say_what_is_wrong_and_what_to_do(content, code, message) -> None:
    with pytest.raises(FileRejected) as caught:
        parse_upload(io.BytesIO(content), "u.csv")
    assert caught.value.code == code
    assert caught.value.messages[0].startswith(message) or message in caught.value.messages[0]
    assert len(caught.value.messages) == 2, "a second message says what to do"


def test_a_nul_byte_in_a_row_is_that_rows_anomaly_not_a_binary_file(make_csv, user_line) -> None:
    parsed = parse_upload(make_csv(user_line(1, last_name="A\x00B")), "u.csv")
    [row] = parsed.rows()
    assert [(a.line, a.field) for a in row.anomalies] == [(1, "last_name")]


def test_encoding_is_utf8_with_or_without_bom_else_windows_1252(user_line) -> None:
    line = user_line(1, last_name="Lefèvre") + "\r\n"
    cases = [
        (line.encode("utf-8"), "utf-8", False),
        (b"\xef\xbb\xbf" + line.encode("utf-8"), "utf-8", True),
        (line.encode("cp1252"), "cp1252", False),
    ]
    for content, encoding, bom in cases:
        parsed = parse_upload(io.BytesIO(content), "u.csv")
        assert (parsed.encoding, parsed.has_bom) == (encoding, bom)
        [row] = parsed.rows()
        assert row.values["last_name"] == "Lefèvre"
        assert row.values["title"] in ("M", "MME")


def test_header_is_matched_loosely(make_csv, user_line) -> None:
    for header in [
        HEADER.upper(),
        "civilite;NOM;prénom;Adresse  E-Mail;Téléphone;Mobile;code langue;niveau de sécurité",
        "Civility;Last name;First name;Email address;Phone (Optional);Mobile (Optional);"
        "Language code;Security level (1 = weak, 3 = strong)",
    ]:
        parsed = parse_upload(make_csv(header, user_line(1)), "u.csv")
        assert parsed.has_header
        assert [row.line for row in parsed.rows()] == [2]


def test_a_first_line_of_data_is_not_taken_for_a_header(make_csv, user_line) -> None:
    parsed = parse_upload(make_csv("Nom;Prénom;x;y;z;w;v;u", user_line(2)), "u.csv")
    assert not parsed.has_header
    assert [row.ok for row in parsed.rows()] == [False, True]


def test_comma_is_the_separator_only_when_no_semicolon_stands_outside_quotes(user_line) -> None:
    comma = (user_line(1).replace(";", ",") + "\n").encode()
    assert parse_upload(io.BytesIO(comma), "u.csv").separator == ","
    quoted = comma + b'M,"Doe;Smith",John,john@example.com,,,en-US,1\n'
    assert parse_upload(io.BytesIO(quoted), "u.csv").separator == ","
    mixed = comma + (user_line(2) + "\n").encode()
    parsed = parse_upload(io.BytesIO(mixed), "u.csv")
    assert parsed.separator == ";"
    assert [row.ok for row in parsed.rows()] == [False, True]


def test_line_numbers_are_physical_lines(make_csv, user_line) -> None:
    parsed = parse_upload(
        make_csv(
            HEADER,
            "",
            user_line(1, last_name='"Dupont\nDurand"', first_name="=1+1"),
            user_line(2, email="bad"),
            '"x',
            "",
            newline="\r\n",
        ),
        "u.csv",
    )
    rows = list(parsed.rows())
    assert [(row.line, [a.field for a in row.anomalies]) for row in rows] == [
        (3, ["last_name"]),
        (5, ["email"]),
        (6, ["line"]),
    ]


def test_an_over_long_line_is_reported_and_the_next_lines_keep_their_numbers(
    make_csv, user_line
) -> None:
    parsed = parse_upload(
        make_csv(user_line(1), "x" * (MAX_LINE_CHARS + 10), user_line(3)), "u.csv"
    )
    rows = list(parsed.rows())
    assert [(row.line, row.ok) for row in rows] == [(1, True), (2, False), (3, True)]
    assert "longer than" in rows[1].anomalies[0].message


def test_an_unclosed_quote_names_the_lines_it_swallowed(make_csv, user_line) -> None:
    parsed = parse_upload(make_csv(user_line(1), 'M;"Martin;Paul', user_line(3)), "u.csv")
    rows = list(parsed.rows())
    assert [row.line for row in rows] == [1, 2]
    assert "runs on to line 3" in rows[1].anomalies[0].message

"""The anomaly report: Excel-ready CSV in which no cell can run as a formula."""

from __future__ import annotations

import csv
import io

import pytest

from services.importer.domain import Anomaly, neutralise_cell, parse_upload, write_report


def read_back(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";"))


def test_report_has_a_header_a_bom_and_one_line_per_anomaly() -> None:
    out = io.StringIO(newline="")
    write_report(
        [Anomaly(2, "email", "The e-mail address is missing."), Anomaly(9, "line", 'a;b "c"')],
        out,
    )
    assert out.getvalue().startswith("\ufeffline;field;message\r\n")
    assert read_back(out.getvalue()) == [
        ["line", "field", "message"],
        ["2", "email", "The e-mail address is missing."],
        ["9", "line", 'a;b "c"'],
    ]


@pytest.mark.parametrize(
    "dangerous",
    ["=cmd|' /C calc'!A0", "+SUM(A1:A2)", "-2+3", "@IMPORTXML(x)", "\t=1", "\r=1", "  =1+1"],
)
def test_cells_that_could_be_formulas_are_prefixed_with_a_quote(dangerous) -> None:
    assert neutralise_cell(dangerous) == "'" + dangerous
    out = io.StringIO(newline="")
    write_report([Anomaly(3, dangerous, dangerous)], out)
    [_, row] = read_back(out.getvalue())
    assert row == ["3", "'" + dangerous, "'" + dangerous]


@pytest.mark.parametrize("harmless", ["Dupont", "O'Brien", "a=b", "3", "", "Émile"])
def test_other_cells_are_left_alone(harmless) -> None:
    assert neutralise_cell(harmless) == harmless


def test_no_cell_of_a_report_from_a_hostile_file_starts_like_a_formula(make_csv, user_line) -> None:
    hostile = make_csv(
        user_line(1, civility='=HYPERLINK("http://x")', email="=1+1@x"),
        user_line(2, language="@SUM(1)", password_level="-1"),
        "=cmd|' /C calc'!A0;+;-;@",
    )
    anomalies = [a for row in parse_upload(hostile, "u.csv").rows() for a in row.anomalies]
    assert len(anomalies) >= 5
    out = io.StringIO(newline="")
    write_report(anomalies, out)
    for row in read_back(out.getvalue()):
        for cell in row:
            assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_the_bom_is_not_doubled_on_a_utf8_sig_stream(tmp_path) -> None:
    path = tmp_path / "report.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        write_report([Anomaly(1, "line", "x")], out)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfline;field;message\r\n")

"""The anomaly report as CSV for Excel; formula-like cells are neutralised (CSV injection)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TextIO

from .model import Anomaly

REPORT_HEADER = ("line", "field", "message")
# A spreadsheet reads a cell starting with one of these as a formula (or as the start of one).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> str:
    """The cell as text, prefixed with ' when a spreadsheet could take it for a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS) or text.lstrip(" ").startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def write_csv_rows(rows: Iterable[Iterable[object]], out: TextIO) -> None:
    """Write `;`-separated rows, every cell neutralised; the Excel-friendly writer of Portico."""
    writer = csv.writer(out, delimiter=";", quotechar='"', lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise_cell(cell) for cell in row])


def write_report(anomalies: Iterable[Anomaly], out: TextIO, language: str | None = None) -> None:
    """Write `line;field;message` with a header, preceded by a UTF-8 BOM for Excel; each
    message in `language` (English when the anomaly has no text in it).

    `out` is a text stream that encodes UTF-8 (not 'utf-8-sig': the BOM is written here,
    unless the stream's encoding already adds it).
    """
    if (getattr(out, "encoding", None) or "").lower().replace("_", "-") != "utf-8-sig":
        out.write("\ufeff")
    write_csv_rows([REPORT_HEADER], out)
    write_csv_rows(((a.line, a.field, a.text(language)) for a in anomalies), out)

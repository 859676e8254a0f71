"""The importer's domain: file-level checks, row validation and the anomaly report (no I/O)."""

from .model import COLUMNS, LINE, Anomaly, FileRejected, RowResult
from .report import neutralise_cell, write_csv_rows, write_report
from .rows import InvalidValue, RowChecker
from .upload import DEFAULT_MAX_BYTES, ParsedFile, parse_upload

__all__ = [
    "COLUMNS",
    "DEFAULT_MAX_BYTES",
    "LINE",
    "Anomaly",
    "FileRejected",
    "InvalidValue",
    "ParsedFile",
    "RowChecker",
    "RowResult",
    "neutralise_cell",
    "parse_upload",
    "write_csv_rows",
    "write_report",
]

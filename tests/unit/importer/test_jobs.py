"""The job state machine and the cut of a file's rows into batches (no I/O)."""

from __future__ import annotations

import pytest

from services.importer.domain import Anomaly, RowResult
from services.importer.domain.jobs import (
    InvalidTransition,
    JobStatus,
    anomaly_rank,
    check_transition,
    chunks,
    is_complete,
)


def valid(line: int) -> RowResult:
    return RowResult(line, {"email": f"u{line}@example.com"}, [])


def invalid(line: int) -> RowResult:
    return RowResult(line, None, [Anomaly(line, "email", "bad")])


@pytest.mark.parametrize(
    ("current", "new"),
    [
        ("queued", "running"),
        ("queued", "failed"),
        ("running", "running"),
        ("running", "done"),
        ("running", "failed"),
    ],
)
def test_allowed_transitions(current, new) -> None:
    assert check_transition(current, new) == JobStatus(new)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        ("queued", "done"),
        ("done", "running"),
        ("done", "failed"),
        ("failed", "running"),
        ("failed", "done"),
    ],
)
def test_a_finished_job_never_changes_and_a_queued_one_is_not_done(current, new) -> None:
    with pytest.raises(InvalidTransition):
        check_transition(current, new)


def test_a_job_is_complete_once_dispatched_and_every_batch_answered() -> None:
    assert not is_complete(False, 0, 0)
    assert not is_complete(True, 3, 2)
    assert is_complete(True, 3, 3)
    assert is_complete(True, 0, 0)


def test_chunks_hold_size_valid_rows_and_the_invalid_lines_among_them() -> None:
    results = [valid(1), invalid(2), valid(3), valid(4), invalid(5), valid(6), invalid(7)]

    cut = list(chunks(results, 2))

    assert [c.batch for c in cut] == [1, 2, 3]
    assert [[r["line"] for r in c.rows] for c in cut] == [[1, 3], [4, 6], []]
    assert [(c.first_line, c.last_line, c.lines, c.invalid) for c in cut] == [
        (1, 3, 3, 1),
        (4, 6, 3, 1),
        (7, 7, 1, 1),
    ]
    assert [a.line for c in cut for a in c.anomalies] == [2, 5, 7]
    assert cut[0].rows[0] == {"line": 1, "email": "u1@example.com"}


def test_the_cut_depends_only_on_the_rows() -> None:
    results = [valid(n) if n % 7 else invalid(n) for n in range(1, 1000)]
    first = [(c.batch, c.first_line, c.last_line) for c in chunks(results, 50)]
    second = [(c.batch, c.first_line, c.last_line) for c in chunks(iter(results), 50)]
    assert first == second
    assert all(len(c.rows) == 50 for c in list(chunks(results, 50))[:-1])


def test_an_exact_multiple_leaves_no_empty_last_chunk() -> None:
    assert [len(c.rows) for c in chunks([valid(n) for n in range(1, 7)], 3)] == [3, 3]
    with pytest.raises(ValueError):
        list(chunks([valid(1)], 0))


def test_anomalies_of_a_line_are_ranked_like_the_columns_the_whole_line_last() -> None:
    order = [
        "civility",
        "last_name",
        "first_name",
        "email",
        "phone",
        "mobile",
        "language",
        "password_level",
        "line",
        "other",
    ]
    assert [anomaly_rank(name) for name in order] == list(range(10))

"""One result format for every benchmark, written to bench/results/<name>.json and printed as a table."""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


@dataclass
class Result:
    name: str
    unit: str
    value: float
    baseline_name: str
    baseline: float
    target: str
    meets: bool | None  # None: a figure reported without a target
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return round(self.value / self.baseline, 3) if self.baseline else float("nan")

    def to_dict(self, run: str | None = None) -> dict[str, Any]:
        fields = asdict(self)
        detail = fields.pop("detail")
        fields.update(
            ratio=self.ratio,
            machine=machine(),
            when=datetime.now(UTC).isoformat(timespec="seconds"),
            run=run,  # the same for every figure written by one `make bench` (or one module's run)
        )
        # the result's own fields win: a detail named like one of them (meets, value...) cannot replace it
        return {**detail, **fields}


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run_stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def save(results: list[Result], run: str | None = None) -> None:
    """Write each result to bench/results/<name>.json, all stamped with the same `run`."""
    RESULTS.mkdir(exist_ok=True)
    run = run or run_stamp()
    for result in results:
        (RESULTS / f"{result.name}.json").write_text(
            json.dumps(result.to_dict(run), indent=2) + "\n"
        )


def table(results: list[Result]) -> str:
    rows = [("benchmark", "value", "baseline", "ratio", "target", "meets")]
    for r in results:
        rows.append(
            (
                r.name,
                f"{r.value:.3f} {r.unit}",
                f"{r.baseline:.3f} ({r.baseline_name})",
                f"{r.ratio:.2f}",
                r.target,
                "n/a" if r.meets is None else "yes" if r.meets else "NO",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows)

"""The benchmarks' result format: what is written to bench/results is the figure that was measured."""

from __future__ import annotations

from bench.common import Result


def test_a_detail_cannot_overwrite_the_result_fields():
    result = Result(
        name="x_per_s",
        unit="1/s",
        value=10.0,
        baseline_name="b",
        baseline=20.0,
        target=">= 0.9x b",
        meets=False,
        detail={"meets": True, "value": 99.0, "name": "other", "runs": [9.0, 10.0, 11.0]},
    )
    written = result.to_dict()
    assert written["meets"] is False
    assert written["value"] == 10.0 and written["name"] == "x_per_s" and written["ratio"] == 0.5
    assert written["runs"] == [9.0, 10.0, 11.0]

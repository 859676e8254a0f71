"""The benchmarks' result format: what is written to bench/results is the figure that was measured."""

from __future__ import annotations

import json

from bench import common
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


def test_every_result_of_one_run_is_stamped_with_that_run(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    made = [
        Result(
            name=name, unit="s", value=1.0, baseline_name="b", baseline=1.0, target="t", meets=None
        )
        for name in ("first", "second")
    ]
    common.save(made, "2030-01-01T00:00:00+00:00")
    written = [json.loads((tmp_path / f"{name}.json").read_text()) for name in ("first", "second")]
    assert [w["run"] for w in written] == ["2030-01-01T00:00:00+00:00"] * 2
    assert written[0]["meets"] is None  # a figure without a target says so, not "yes"
    assert "n/a" in common.table(made)

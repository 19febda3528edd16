"""Result rows and the result document: schema, Azure-equivalent makespan, the extrapolation
rule, ground-truth checks (executions over once, untruthful final states)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleet.bench.harness import result_document
from fleet.bench.lower_bound import LowerBound
from fleet.bench.metrics import ROW_KEYS, bound_row, contender_row, makespan, over_once, untruthful
from fleet.bench.procs import Usage
from fleet.bench.scenario import Scenario

BOUND = LowerBound(200.0, 180.0, "arm:writes:s", puts=3, targets=4, max_duration_s=40.0)
IDS = [
    "/subscriptions/s/vm/a",
    "/subscriptions/s/vm/b",
    "/subscriptions/s/vm/c",
    "/subscriptions/s/vm/d",
]


def _truth(states: dict[str, str]) -> dict:
    executions = [{"target": t.upper(), "state": s, "started": True} for t, s in states.items()]
    return {
        "executions": executions,
        "executed_per_target": {t: {"bench-bench": 1} for t in states},
    }


def test_finished_makespan_is_wall_times_time_scale() -> None:
    assert makespan(20.0, True, 4, 4, 10.0) == (200.0, False, 1.0)


def test_a_cut_off_run_is_extrapolated_from_its_throughput() -> None:
    span, extrapolated, fraction = makespan(30.0, False, 25, 300, 10.0)
    assert extrapolated and fraction == pytest.approx(25 / 300)
    assert span == pytest.approx(30.0 * 10.0 * 300 / 25)
    assert makespan(30.0, False, 0, 300, 10.0) == (None, True, 0.0)


def test_row_has_the_issue_schema_and_adds_up() -> None:
    output = {
        "contender": "unbounded",
        "elapsed_s": 25.0,
        "finished": True,
        "outcomes": {
            IDS[0]: ["succeeded", "x"],
            IDS[1]: ["failed", "x"],
            IDS[2]: ["lost", "poll: HTTP 429"],
            IDS[3]: ["skipped", "x"],
        },
    }
    stats = {"throttled_total": 7, "kinds": {"reads": 12, "writes": 5}}
    truth = _truth({IDS[0]: "Succeeded", IDS[1]: "Failed", IDS[2]: "Succeeded"})
    row = contender_row(output, Usage(0, 1.5, 80.0), stats, truth, IDS, BOUND, 10.0)
    assert set(ROW_KEYS) <= set(row)
    assert row["makespan_s"] == 250.0 and row["ratio"] == 1.25
    assert (row["completed"], row["succeeded"], row["failed"], row["skipped"]) == (3, 1, 1, 1)
    assert row["lost"] == 1 and row["not_run"] == 0 and row["untruthful"] == 0
    assert row["completed"] + row["lost"] + row["not_run"] == row["targets"] == 4
    assert (row["throttled"], row["reads_per_target"], row["writes_per_target"]) == (7, 3.0, 1.25)
    assert (row["cpu_s"], row["peak_rss_mb"]) == (1.5, 80.0)
    assert row["lost_reasons"] == {"poll: HTTP 429": 1}


def test_reported_states_are_checked_against_ground_truth() -> None:
    outcomes = {IDS[0]: ["succeeded", ""], IDS[1]: ["failed", ""], IDS[2]: ["skipped", ""]}
    truth = _truth({IDS[0]: "Failed", IDS[1]: "Failed", IDS[2]: "Succeeded"})["executions"]
    assert untruthful(outcomes, truth) == 2  # a "success" that failed, a "skip" that ran


def test_executions_over_once_count_every_extra_run() -> None:
    per_target = {"a": {"bench-bench": 1}, "b": {"bench-bench": 3}, "c": {"x": 1, "y": 1}}
    assert over_once(per_target) == (3, 6)


def test_result_document_names_scenario_machine_versions_and_contenders(tmp_path: Path) -> None:
    scenario = Scenario(name="t", profile=str(tmp_path / "p.yaml"), time_scale=10, seed=1)
    doc = result_document(scenario, {"managed": BOUND}, [bound_row(BOUND)], datetime.now(UTC), 1.0)
    assert {"scenario", "machine", "versions", "time_scale", "contenders"} <= set(doc)
    assert doc["machine"]["cpu_count"] and doc["machine"]["python"]
    assert doc["versions"]["azure-core"] and doc["versions"]["azure-mgmt-compute"]
    lb = doc["contenders"][0]
    assert lb["name"] == "lower bound" and lb["ratio"] == 1.0 and lb["skipped"] == 1
    assert set(ROW_KEYS) <= set(lb)

"""Contender wiring on a tiny scenario (12 targets, time scale 50): each contender runs in its own
process against its own emulator process, and its row agrees with the emulator's ground truth.
Figures are not asserted: a benchmark is not a test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.bench.harness import run_scenario
from fleet.bench.metrics import ROW_KEYS
from fleet.bench.scenario import load_scenario

pytestmark = pytest.mark.e2e

PROFILE = """
name: tiny
seed: 5
subscriptions:
  - id: 66666666-6666-4666-8666-000000000001
    name: tiny
    resource_groups:
      - name: rg-tiny
        location: eastus
        vms: [{count: 8, name: "t-{i:02d}"}]
        scale_sets:
          - {name: ss-uni, mode: Uniform, capacity: 2}
          - {name: ss-flex, mode: Flexible, capacity: 2}
overrides:
  - {names: ["t-08"], power_state: deallocated}
  - {names: ["t-03"], outcome: broken}
script:
  pending: {median: 1, sigma: 0, min: 1, max: 1}
  duration: {median: 4, sigma: 0, min: 4, max: 4}
  outcomes:
    - {name: ok, weight: 1, output: "ok"}
    - {name: broken, weight: 0, exit_code: 2, error: "broken"}
"""


def _scenario(tmp_path: Path, documented_budget: float) -> Path:
    (tmp_path / "tiny.yaml").write_text(PROFILE, encoding="utf-8")
    scenario = f"""
name: tiny
profile: tiny.yaml
time_scale: 50
seed: 5
job: {{name: tiny, timeout: 120}}
budgets: {{fleet: 60, history: 60, documented: {documented_budget}, unbounded: 60}}
"""
    path = tmp_path / "scenario.yaml"
    path.write_text(scenario, encoding="utf-8")
    return path


def test_every_contender_runs_in_its_own_process_and_reports_truthfully(tmp_path: Path) -> None:
    scenario = load_scenario(_scenario(tmp_path, documented_budget=60))
    doc = run_scenario(scenario, results_dir=tmp_path / "results")
    saved = json.loads((tmp_path / "results" / "tiny.json").read_text())
    assert [r["name"] for r in saved["contenders"]] == [
        "fleet",
        "history (1st run)",
        "history (2nd run)",
        "documented",
        "unbounded",
        "lower bound",
        "lower bound (2nd run)",
    ]
    assert saved["time_scale"] == 50 and saved["lower_bound"]["puts"] == 11
    assert saved["lower_bound_second_run"]["puts"] == 11
    for row in doc["contenders"][:5]:
        assert set(ROW_KEYS) <= set(row), row["name"]
        assert row["targets"] == 12 and not row["extrapolated"], row
        assert (row["succeeded"], row["failed"], row["skipped"]) == (10, 1, 1), row
        assert row["lost"] == row["not_run"] == row["untruthful"] == 0, row
        assert row["executions_over_once"] == 0 and row["executions"] == 11, row
        assert row["cpu_s"] > 0 and row["peak_rss_mb"] > 0, row
        assert row["cpu_ms_per_target"] == pytest.approx(row["cpu_s"] * 1000 / 12, rel=0.01)
        assert row["peak_rss_kb_per_target"] > 0, row
        assert row["makespan_s"] >= row["lower_bound_s"] * 0.5, row  # Azure-equivalent seconds
    fleet, first, second, documented = doc["contenders"][:4]
    assert fleet["selection_s"] is not None
    # the 2nd run of the job learned from the 1st (its own row: requests and executions since)
    assert (first["history_runs"], second["history_runs"]) == (0, 1)
    assert second["vs_first_run"] == pytest.approx(
        second["makespan_s"] / first["makespan_s"], abs=0.01
    )
    assert second["writes_per_target"] == pytest.approx(first["writes_per_target"])
    assert documented["reads_per_target"] > fleet["reads_per_target"]  # the LRO poller's polls


def test_a_contender_past_its_budget_stops_and_is_extrapolated(tmp_path: Path) -> None:
    scenario = load_scenario(_scenario(tmp_path, documented_budget=1.5))
    doc = run_scenario(scenario, contenders=["documented"], results_dir=tmp_path)
    row = doc["contenders"][0]
    assert row["extrapolated"] and row["not_run"] > 0 and row["wall_s"] < 10
    assert row["measured_fraction"] < 1.0
    assert row["completed"] + row["lost"] + row["not_run"] == 12


def test_fleet_in_action_mode_is_a_contender_and_reports_truthfully(tmp_path: Path) -> None:
    scenario = load_scenario(_scenario(tmp_path, documented_budget=60))
    doc = run_scenario(scenario, contenders=["fleet-action"], results_dir=tmp_path / "results")
    row = doc["contenders"][0]
    assert row["name"] == "fleet-action" and not row["extrapolated"], row
    assert (row["succeeded"], row["failed"], row["skipped"]) == (10, 1, 1), row
    assert row["lost"] == row["untruthful"] == row["executions_over_once"] == 0, row
    assert row["executions"] == 11 and row["writes_per_target"] < 1.5, row
    names = [r["name"] for r in doc["contenders"]]
    assert names == ["fleet-action", "lower bound", "lower bound (action)"]
    action_bound = doc["lower_bound_action"]["lower_bound_s"]  # its own bound, not managed's:
    assert (doc["lower_bound"]["lower_bound_s"], action_bound) == (5.0, 20.0)  # 1 + 4 s; 20 s min
    assert row["lower_bound_s"] == doc["contenders"][-1]["makespan_s"] == round(action_bound, 1)
    quick = load_scenario("quick")
    assert "fleet-action" in quick.contenders and quick.budget("fleet-action") > 0
    assert "fleet-storage" in quick.contenders and quick.budget("fleet-storage") > 0


def test_fleet_storage_sees_completion_in_its_azurite_not_in_arm(tmp_path: Path) -> None:
    """The fleet-storage contender: its emulator serves with --azurite, the job writes full
    outputs there with completion: storage, and the row counts storage requests."""
    scenario = load_scenario(_scenario(tmp_path, documented_budget=60))
    doc = run_scenario(scenario, contenders=["fleet", "fleet-storage"], results_dir=tmp_path)
    arm_row, storage_row = doc["contenders"][0], doc["contenders"][1]
    assert storage_row["name"] == "fleet-storage"
    assert (storage_row["succeeded"], storage_row["failed"], storage_row["skipped"]) == (10, 1, 1)
    assert storage_row["lost"] == storage_row["untruthful"] == 0
    assert storage_row["executions_over_once"] == 0
    assert storage_row["storage_requests_per_target"] > 0
    assert arm_row["storage_requests_per_target"] is None
    assert storage_row["reads_per_target"] < arm_row["reads_per_target"]


def test_fleet_bench_prints_the_result_rows_as_json_and_tsv(tmp_path: Path) -> None:
    """fleet bench had no -o: its rows could only be read back from the results file. -o json
    prints the result document's rows (each with its scenario), -o tsv a line per row; the
    progress lines go to stderr so stdout holds the rows only."""
    scenario, results = _scenario(tmp_path, documented_budget=60), tmp_path / "results"
    cmd = [sys.executable, "-m", "fleet.cli.main", "bench", str(scenario), "-c", "documented"]
    cmd += ["--results-dir", str(results)]
    env = {**os.environ, "COLUMNS": "200"}
    as_json = subprocess.run([*cmd, "-o", "json"], capture_output=True, text=True, env=env)
    assert as_json.returncode == 0, as_json.stderr
    saved = json.loads((results / "tiny.json").read_text())
    rows = json.loads(as_json.stdout)
    assert [r["name"] for r in rows] == ["documented", "lower bound"]
    assert rows == [{"scenario": "tiny", **r} for r in saved["contenders"]]
    assert "documented: makespan" in as_json.stderr and "results:" in as_json.stderr
    as_tsv = subprocess.run([*cmd, "-o", "tsv"], capture_output=True, text=True, env=env)
    assert as_tsv.returncode == 0, as_tsv.stderr
    lines = [line.split("\t") for line in as_tsv.stdout.splitlines()]
    assert [line[:2] for line in lines] == [["tiny", "documented"], ["tiny", "lower bound"]]
    assert all(len(line) == 20 for line in lines) and lines[0][5] == "12"  # targets
    bad = subprocess.run([*cmd, "-o", "yaml"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "table, json or tsv" in bad.stderr and not bad.stdout

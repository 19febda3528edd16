"""After a halt (issue #10), from the command line against an emulator in its own process: a
health gate halts a rollout; ``fleet show`` prints the gate verdicts as ``fleet run`` did and
says how to go on; ``fleet resume`` alone refuses; ``fleet resume --continue --exclude`` goes on
with the NotStarted targets (the excluded one Skipped, nothing run twice, the gate verdicts
kept); ``fleet rerun --failed`` takes flag overrides (``--exclude``, rollout flags)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.clikit import Served, clean_env, fleet, served

JOB = """name: gated-patch
targets: {names: ["app-*"]}
script: {inline: "echo patched"}
rollout:
  batches: [2, 3, "100%"]
  order: name
  max_errors: 5
  health_gate: {name: health, script: {inline: check}}
"""


@pytest.fixture(scope="module")
def emu() -> Iterator[Served]:
    with served("small", time_scale=60) as info:
        yield info


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {t["name"]: t["status"] for t in report["targets"]}


def test_a_gate_halt_then_continue_with_an_exclusion_then_rerun(
    emu: Served, tmp_path: Path
) -> None:
    job = tmp_path / "gated.yaml"
    job.write_text(JOB)
    env = clean_env(FLEET_ACCESS_TOKEN="fleet-sim-token", FLEET_STATE_DIR=str(tmp_path / "s"))
    first = fleet("run", str(job), *emu.args(), "--yes", "-o", "json", env=env)
    assert first.returncode == 3, first.stderr
    halted = json.loads(first.stdout)
    run_id, statuses = halted["run_id"], _statuses(halted)
    assert halted["ended"] == "halted-by-gate" and statuses["app-03"] == "Failed"  # disk full
    assert [n for n, s in statuses.items() if s == "NotStarted"] == [
        f"app-{i:02}" for i in range(6, 12)
    ]
    shown = fleet("show", run_id, env=env)
    assert "Gate health after batch 2 on 3 targets: FAILED" in shown.stdout
    assert f"fleet resume {run_id} --continue" in shown.stdout
    plain = fleet("resume", run_id, env=env)
    assert plain.returncode == 2 and "--continue" in plain.stderr

    typo = fleet("resume", run_id, "--continue", "--exclude", "app-7", env=env)
    assert typo.returncode == 2 and "'app-7' matches none of run" in typo.stderr
    retyped = fleet("rerun", run_id, "--failed", "--exclude", "app-3", "--yes", env=env)
    assert retyped.returncode == 2 and "'app-3' matches none of run" in retyped.stderr
    # (and nothing was sent: app-07 never runs below, every other target runs once)

    on = fleet("resume", run_id, "--continue", "--exclude", "app-07", "-o", "json", env=env)
    assert on.returncode == 1, on.stderr  # completed; app-03 is still the failure it was
    report = json.loads(on.stdout)
    statuses = _statuses(report)
    assert report["ended"] == "completed" and report["run_id"] == run_id
    assert statuses["app-07"] == "Skipped" and statuses["app-03"] == "Failed"
    assert all(statuses[f"app-{i:02}"] == "Succeeded" for i in (1, 2, 4, 5, 6, 8, 9, 10, 11))
    gates = [(g["batch"], g["passed"]) for g in report["rollout"]["gates"]]
    assert gates == [(1, True), (2, False)]  # the verdict that halted it is kept
    ran = emu.truth("executions")["executed_per_target"]
    per_name = {i.rsplit("/", 1)[-1]: c.get("fleet-gated-patch", 0) for i, c in ran.items()}
    assert per_name.get("app-07", 0) == 0
    assert all(per_name[f"app-{i:02}"] == 1 for i in (1, 2, 3, 4, 5, 6, 8, 9, 10, 11))

    again = fleet("rerun", run_id, "--failed", "--exclude", "app-03", "--batches", "100%",
                  "--yes", "-o", "json", env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr
    rerun = json.loads(again.stdout)
    assert sorted(_statuses(rerun)) == ["app-07", "app-12"]  # not app-03; app-12 deallocated
    assert _statuses(rerun)["app-07"] == "Succeeded"
    assert len(rerun["rollout"]["batches"]) == 1  # --batches 100% laid over the file's

"""Gate verdicts survive a crash (issue #10; journal schema 4): ``fleet run`` is SIGKILLed in
batch 2, after the health gate passed on batch 1. ``fleet show`` of the interrupted run prints
the batches started and that verdict (text and ``-o json``); ``fleet resume`` does not check the
gate on batch 1 again and its report keeps the verdict from before the crash; ``fleet resume
--continue`` after the gate halts the run on batch 2 keeps both verdicts.

Before version 4 the verdicts lived only in the report written when a run ended: the resumed
run's report listed only the gate judged after the resume, and ``fleet show`` of the
interrupted run printed no batch or gate line."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.clikit import Served, clean_env, fleet, served
from tests.e2e.killkit import run_id_of

JOB = """name: gated-kill
targets: {names: ["app-*"]}
script: {inline: "echo patched"}
rollout:
  batches: [2, 3, "100%"]
  order: name
  health_gate: {name: health, script: {inline: check}}
"""
#: batch 1's two PUTs, the gate's two on them, then the first of batch 2: killed after its intent
IN_BATCH_2 = "after-intent:5"


@pytest.fixture(scope="module")
def emu() -> Iterator[Served]:
    with served("small", time_scale=60) as info:
        yield info


def _gates(report: dict[str, Any]) -> list[tuple[int, bool]]:
    return [(g["batch"], g["passed"]) for g in report["rollout"]["gates"]]


def _gate_runs(emu: Served, names: tuple[str, ...]) -> list[int]:
    ran = emu.truth("executions")["executed_per_target"]
    per_name = {i.rsplit("/", 1)[-1]: c for i, c in ran.items()}
    return [per_name[n].get("fleet-gated-kill-gate-health", 0) for n in names]


def test_gate_verdicts_before_a_kill_are_shown_and_kept_by_resume(
    emu: Served, tmp_path: Path
) -> None:
    job = tmp_path / "gated.yaml"
    job.write_text(JOB)
    env = clean_env(FLEET_ACCESS_TOKEN="fleet-sim-token", FLEET_STATE_DIR=str(tmp_path / "s"))
    killed = fleet(
        "run", str(job), *emu.args(), "--yes", env={**env, "FLEET_FAILPOINT": IN_BATCH_2}
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run_id = run_id_of("gated-kill", env)

    shown = fleet("show", run_id, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "Rollout: 2 of 3 batches run (order name)." in shown.stdout
    assert "Gate health after batch 1 on 2 targets: passed" in shown.stdout
    assert f"fleet resume {run_id}" in shown.stdout
    as_json = json.loads(fleet("show", run_id, "-o", "json", env=env).stdout)
    assert as_json["ended"] == "interrupted" and _gates(as_json) == [(1, True)]
    assert [b["started"] for b in as_json["rollout"]["batches"]] == [True, True, False]

    resumed = fleet("resume", run_id, "-o", "json", env=env)
    assert resumed.returncode == 3, resumed.stderr  # app-03's disk is full: the gate halts it
    report = json.loads(resumed.stdout)
    assert report["ended"] == "halted-by-gate"
    assert _gates(report) == [(1, True), (2, False)]  # batch 1's verdict from before the kill
    assert _gate_runs(emu, ("app-01", "app-02")) == [1, 1]  # not checked again

    on = fleet("resume", run_id, "--continue", "-o", "json", env=env)
    assert on.returncode == 1, on.stderr  # completed; app-03 stays the failure it was
    final = json.loads(on.stdout)
    assert final["ended"] == "completed" and _gates(final) == [(1, True), (2, False)]
    assert _gate_runs(emu, ("app-01", "app-02", "app-03")) == [1, 1, 1]
    assert "Gate health after batch 1 on 2 targets: passed" in fleet("show", run_id, env=env).stdout

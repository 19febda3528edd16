"""``fleet runs``, ``fleet show``, ``fleet rerun --failed``, reading the journal while a run is
being written, refusing a second writer, and clear errors for a damaged state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from fleet.journal.paths import db_path
from tests.e2e import killkit
from tests.simkit import ROOT

FLEET = [sys.executable, "-m", "fleet.cli.main"]
SMALL = ["--sim", "--profile", "small", "--yes"]


def fleet(state: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLEET_STATE_DIR": str(state), "COLUMNS": "160"}
    return subprocess.run([*FLEET, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def test_runs_show_and_rerun_failed(tmp_path: Path) -> None:
    state, report = tmp_path / "state", tmp_path / "r.json"
    first = fleet(state, "run", *SMALL, "--time-scale", "50", "-n", "app-0*", "--script",
                  "uptime", "--job-name", "uptime", "--report", str(report))  # fmt: skip
    assert first.returncode == 1, first.stderr  # app-03: disk full
    runs = json.loads(fleet(state, "runs", "-o", "json").stdout)
    assert len(runs) == 1
    run, reported = runs[0], json.loads(report.read_text())
    assert (run["run_id"], run["job"], run["ended"]) == (reported["run_id"], "uptime", "completed")
    listed_start, report_start = (
        datetime.fromisoformat(t.replace("Z", "+00:00"))
        for t in (run["started_at"], reported["started_at"])
    )
    assert abs((listed_start - report_start).total_seconds()) < 1  # journaled as it began
    assert run["summary"] == reported["summary"]
    assert run["summary"]["total"] == 9 and run["summary"]["Failed"] == 1  # app-03: disk full
    shown = fleet(state, "show", run["run_id"], "-o", "json")
    assert json.loads(shown.stdout) == reported
    table = fleet(state, "show", run["run_id"])
    assert table.returncode == 0 and "targets: status: OK" not in table.stderr
    assert "app-03" in table.stdout
    again = fleet(state, "rerun", run["run_id"], "--failed", "--report", str(tmp_path / "2.json"))
    assert again.returncode == 1, again.stderr
    rerun = json.loads((tmp_path / "2.json").read_text())
    assert [t["name"] for t in rerun["targets"]] == ["app-03"]
    assert len(json.loads(fleet(state, "runs", "-o", "json").stdout)) == 2


def test_reading_while_a_run_is_written_and_a_second_writer_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    # Azure's own pace: the run stays in flight for a good 10 s, longer than the two fleet
    # processes this test starts take to start on a loaded machine (at x2 it sometimes ended
    # before `fleet resume` looked, and was "already ended").
    with killkit.served(time_scale=1) as emu:
        _read_while_writing(state, emu)


def _read_while_writing(state: Path, emu: killkit.Served) -> None:
    env = killkit.fleet_env(state)
    slow = killkit.start_run(emu, killkit.job_file(state.parent, "slow"), env)
    try:
        deadline = time.monotonic() + 60
        runs: list[dict] = []
        while time.monotonic() < deadline and not runs:
            listed = fleet(state, "runs", "-o", "json")
            if listed.returncode == 0:
                runs = json.loads(listed.stdout)
            time.sleep(0.3)
        assert runs and runs[0]["ended"] == "running"
        second = fleet(state, "resume", runs[0]["run_id"])
        assert second.returncode == 3
        assert "being written" in second.stderr or "pid" in second.stderr
    finally:
        slow.wait(timeout=240)
    assert slow.returncode in (0, 1), slow.stderr


def test_damaged_or_foreign_state_file_is_a_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db_path(state).write_bytes(b"this is not a database at all" * 100)
    listed = fleet(state, "runs")
    assert listed.returncode == 3
    assert "not a fleet journal" in listed.stderr
    ran = fleet(state, "run", *SMALL, "-n", "app-01", "--script", "true")
    assert ran.returncode == 3 and "not a fleet journal" in ran.stderr


def _shown(state: Path, run_id: str) -> dict:  # type: ignore[type-arg]
    return json.loads(fleet(state, "show", run_id, "-o", "json").stdout)


def test_show_tells_running_from_not_started_and_a_killed_run_is_interrupted(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    with killkit.served(time_scale=2) as emu:
        env = killkit.fleet_env(state)
        proc = killkit.start_run(emu, killkit.job_file(tmp_path, "slow"), env)
        run_id, live = killkit._until_run_id(proc).split("run id: ")[1].split()[0], {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until a launched target has no result yet
            live = _shown(state, run_id)
            if any(t["status"] == "Running" for t in live["targets"]):
                break
            time.sleep(0.2)
        proc.kill()
        proc.wait(timeout=30)
        assert live["ended"] == "running"
        running = [t for t in live["targets"] if t["status"] == "Running"]
        assert running and all(t["reason"] == "launched, running" for t in running), [
            t["reason"] for t in running
        ]
        runs = json.loads(fleet(state, "runs", "-o", "json").stdout)
        assert runs[0]["ended"] == "interrupted"  # not "running" for ever
        assert "resume with fleet resume RUN_ID" in fleet(state, "runs").stdout
        table = fleet(state, "show", run_id).stdout
        assert f"Run interrupted (resume with fleet resume {run_id})" in table
        assert "Run interrupted, started " in table and "interrupted in " not in table
        after = _shown(state, run_id)
        assert {t["status"] for t in after["targets"]} <= {
            "Running", "NotStarted", "Succeeded", "Failed", "Skipped"
        }  # fmt: skip
        so_far = dict(runs[0]["summary"])  # the outcomes so far, as show counts them (was none)
        assert so_far.pop("total") == len(after["targets"])
        assert so_far == dict(Counter(t["status"] for t in after["targets"]))
        done = killkit.resume(run_id, env, tmp_path / "r.json")
        assert done.returncode in (0, 1), done.stderr
    assert json.loads(fleet(state, "runs", "-o", "json").stdout)[0]["ended"] == "completed"

"""The rollout CLI contract: the confirmation prompt (non-interactive without --yes → exit 2),
``fleet plan`` showing batches, and Ctrl-C / SIGTERM / --cancel-running on a live run."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from fleet.cli.rollout_view import confirm_run
from fleet.errors import SpecError
from fleet.model import (
    JobSpec,
    RolloutPolicy,
    RunPlan,
    ScriptSource,
    ScriptSpec,
    Selector,
    SourceKind,
)
from fleet.rollout.batches import plan_rollout
from tests.e2e import killkit
from tests.e2e.test_cli_run import FLEET, fleet
from tests.fakes import make_target
from tests.simkit import ROOT


def test_non_interactive_run_over_the_threshold_without_yes_exits_2() -> None:
    proc = fleet("run", "configs/jobs/health-check.yaml", "--sim", "--time-scale", "40")
    assert proc.returncode == 2, proc.stderr
    assert "without confirmation" in proc.stderr and "--yes" in proc.stderr
    assert "run id:" not in proc.stderr  # nothing was launched
    small = fleet(
        "run",
        "--sim",
        "--profile",
        "small",
        "-n",
        "app-0*",
        "--script",
        "uptime",
        "--confirm-over",
        "9",
        "--time-scale",
        "40",
    )
    assert small.returncode == 1, small.stderr  # 9 targets: no prompt needed (app-03 fails)


def test_a_sentinel_error_comes_before_the_confirmation(tmp_path: Path) -> None:
    job = tmp_path / "probe.yaml"
    job.write_text(
        "name: probe\ntargets: {names: ['web-*']}\nscript: {inline: uptime}\n"
        "rollout:\n  health_gate: {name: probe, script: {inline: 'true'}, sentinels: [nope-*]}\n"
    )
    proc = fleet("run", str(job), "--sim", "--time-scale", "40")  # 40 targets, no --yes
    assert proc.returncode == 2, proc.stderr
    assert "sentinels nope-* match no VM" in proc.stderr
    assert "without confirmation" not in proc.stderr and "run id:" not in proc.stderr


def _spec(confirm_over: int = 10) -> JobSpec:
    script = ScriptSpec(ScriptSource(SourceKind.INLINE, "x"))
    return JobSpec("job", Selector(), script, rollout=RolloutPolicy(confirm_over=confirm_over))


def _plan(spec: JobSpec, count: int) -> RunPlan:
    targets = [make_target(f"vm-{i:02}") for i in range(count)]
    return RunPlan("run-1", spec, tuple(targets), (), plan_rollout(targets, spec.rollout))


def test_prompt_shows_the_plan_and_needs_a_yes() -> None:
    spec = _spec()
    plan = _plan(spec, 11)
    console = Console(record=True, width=120)
    asked: list[str] = []

    def answer(reply: str):  # type: ignore[no-untyped-def]
        def ask(prompt: str) -> str:  # through rich, as the CLI asks: what the operator sees
            asked.append(prompt)
            return console.input(prompt, stream=io.StringIO(reply + "\n"))

        return ask

    confirm_run(console, plan, yes=False, interactive=True, ask=answer("y"))
    shown = console.export_text()
    assert "Run 'job' on 11 targets? [y/N]" in shown  # not eaten as rich markup
    assert "11 targets in 1 batches" in shown
    with pytest.raises(SpecError, match="not confirmed"):
        confirm_run(console, plan, yes=False, interactive=True, ask=answer(""))

    def closed(prompt: str) -> str:  # Ctrl-D: click would say "Aborted!" and exit 1
        raise EOFError

    with pytest.raises(SpecError, match="not confirmed"):
        confirm_run(console, plan, yes=False, interactive=True, ask=closed)
    confirm_run(console, plan, yes=True, interactive=False, ask=answer("n"))
    small = _plan(spec, 1)
    confirm_run(console, small, yes=False, interactive=False, ask=answer("n"))
    assert len(asked) == 2  # --yes and small runs never ask


def test_plan_shows_batches_zone_by_zone_with_etas() -> None:
    proc = fleet("plan", "configs/jobs/rolling-patch.yaml", "--sim", env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "58 targets in 6 batches, order zone-by-zone" in out
    assert "1 (canary)" in out and "eastus zone 3" in out and "done by" in out
    assert "z3/fd" in out  # each target with its zone and fault domain


def _long_profile(tmp_path: Path) -> Path:
    text = (ROOT / "fleet/sim/profiles/small.yaml").read_text()
    head = text.split("\nscript:\n")[0]
    profile = tmp_path / "long.yaml"
    profile.write_text(
        head + "\nscript:\n  pending: {median: 1, sigma: 0.1, min: 1, max: 2}\n"
        "  duration: {median: 3000, sigma: 0.05, min: 2800, max: 3200}\n"
    )
    return profile


@dataclass
class Live:
    proc: subprocess.Popen[str]
    report: Path
    errors: Path
    emu: killkit.Served


@contextmanager
def _started(tmp_path: Path, *extra: str) -> Iterator[Live]:
    """``fleet run`` of a long patch on a served emulator (so the test sees what runs there),
    handed over once the first three targets' scripts are running (each runs ~150 s wall)."""
    report, errors = tmp_path / "r.json", tmp_path / "stderr.txt"
    with killkit.served(profile=str(_long_profile(tmp_path)), time_scale=20) as emu:
        args = [
            *FLEET, "run", "--arm-endpoint", emu.endpoint, "--ca-cert", emu.ca_cert,
            "--subscription", emu.subscription, "-n", "app-*", "--script", "patch",
            "--timeout", "2h", "-c", "3", "--yes", "--report", str(report), *extra,
        ]  # fmt: skip
        env = killkit.fleet_env(tmp_path / "state")
        with errors.open("w") as stderr:
            proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                    stderr=stderr, text=True)  # fmt: skip
        try:
            _wait_for(lambda: len(_running(emu)) == 3, what="three scripts running")
            yield Live(proc, report, errors, emu)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


def _running(emu: killkit.Served) -> list[str]:
    rows = emu.truth("executions")["executions"]
    return [r["target"] for r in rows if r["state"] == "Running"]


def _canceled(emu: killkit.Served) -> int:
    return sum(r["canceled"] for r in emu.truth("executions")["executions"])


def _wait_for(done: Callable[[], bool], *, what: str, within_s: float = 90) -> None:
    deadline = time.monotonic() + within_s
    while not done():
        assert time.monotonic() < deadline, f"not reached in {within_s} s: {what}"
        time.sleep(0.1)


def _outcome(report: Path) -> tuple[str, dict[str, int]]:
    doc = json.loads(report.read_text())
    return doc["ended"], doc["summary"]


def test_two_sigints_stop_launching_then_delete_in_flight_commands(tmp_path: Path) -> None:
    with _started(tmp_path) as live:
        live.proc.send_signal(signal.SIGINT)
        _wait_for(
            lambda: "no new targets will be launched" in live.errors.read_text(),
            what="the first interrupt acknowledged",
        )
        live.proc.send_signal(signal.SIGINT)
        assert live.proc.wait(timeout=60) == 3
        canceled, executions = _canceled(live.emu), live.emu.truth("executions")["executions"]
    assert "deleting the in-flight" in live.errors.read_text()
    ended, summary = _outcome(live.report)
    assert ended == "canceled"
    assert (summary["Canceled"], summary["NotStarted"], summary["total"]) == (3, 8, 12)
    assert canceled == len(executions) == 3  # Azure stopped exactly the three it had


def test_cancel_running_deletes_on_the_first_sigterm(tmp_path: Path) -> None:
    with _started(tmp_path, "--cancel-running") as live:
        live.proc.send_signal(signal.SIGTERM)
        assert live.proc.wait(timeout=60) == 3
        canceled = _canceled(live.emu)
    ended, summary = _outcome(live.report)
    assert ended == "canceled" and (summary["Canceled"], summary["NotStarted"]) == (3, 8)
    assert canceled == 3


def test_one_sigint_with_a_short_grace_leaves_running_commands(tmp_path: Path) -> None:
    with _started(tmp_path, "--cancel-grace", "1s") as live:  # Azure-s: fleet is not told K
        live.proc.send_signal(signal.SIGINT)
        assert live.proc.wait(timeout=60) == 3
        running = _running(live.emu)
    doc = json.loads(live.report.read_text())
    left = [t for t in doc["targets"] if t["status"] == "Error"]
    assert len(left) == 3 and all("left running" in t["reason"] for t in left)
    assert sorted(running) == sorted(t["id"] for t in left)  # still running on Azure

"""``mode: action`` survives SIGKILL: fleet is killed at exact steps around the POST (intent
journaled, POST not sent; POST answered, answer not journaled; after the accept; after a final)
and ``fleet resume`` finishes the run through the journaled operation or the VM's extension
status. Every target's action run command was accepted by Azure once and ran once (emulator
ground truth, counted per test: a second POST Azure accepted shows even if no agent ran
it) and the report equals an uninterrupted run's, exit codes included."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import killkit

POINTS = [
    "after-intent:1",
    "after-put:2", "after-put:12",  # the answer lost: resolved through the VM's extension
    "after-accepted:16",  # the operations journaled: resume reads them
    "after-final:7",
]  # fmt: skip
KEY = "action:RunShellScript"  # the small profile's targets all run Linux


def action_job(directory: Path, name: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nmode: action\n"
        "targets: {all: true}\n"
        'script:\n  inline: |\n    echo "checking $(hostname)"\n  timeout: 300\n'
    )
    return path


def executed(emu: killkit.Served) -> Counter[tuple[str, str]]:
    """Per (target, what): action run commands Azure ``accepted`` (a POST it processed, whether
    the agent ever ran it) and ``started`` (the script ran). A POST re-sent while the first was
    pending or running is refused (409) and accepted nowhere; one re-sent after it ended runs."""
    truth = emu.truth("executions")
    counts: Counter[tuple[str, str]] = Counter()
    for row in truth["executions"]:
        if row["kind"] == "action" and row["run_command"] == KEY:
            counts[row["target"].lower(), "accepted"] += 1
    for tid, runs in truth["executed_per_target"].items():
        counts[tid.lower(), "started"] += runs.get(KEY, 0)
    return counts


def run_killed(emu: killkit.Served, tmp: Path, job: str, point: str | None) -> dict[str, Any]:
    """Run ``job`` (killed at ``point``), resume it if killed; the final report."""
    env = killkit.fleet_env(tmp / "state", point)
    proc = killkit.start_run(emu, action_job(tmp, job), env)
    _, stderr = proc.communicate(timeout=240)
    killed = proc.returncode == -signal.SIGKILL
    assert killed == (point is not None), stderr
    assert killed or proc.returncode in (0, 1), stderr
    env.pop("FLEET_FAILPOINT", None)
    printed = re.search(r"run id: (\S+)", stderr)
    run_id = printed.group(1) if printed else killkit.run_id_of(job, env)
    report = tmp / f"{job}.json"
    if killed:
        done = killkit.resume(run_id, env, report)
        assert done.returncode in (0, 1), done.stderr
    else:
        shown = subprocess.run(
            [*killkit.FLEET, "show", run_id, "--format", "json"], cwd=killkit.ROOT, env=env,
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        report.write_text(shown.stdout)
    return json.loads(report.read_text())


def outcome(report: dict[str, Any]) -> dict[str, tuple[str, int | None]]:
    return {t["id"].lower(): (t["status"], t["exit_code"]) for t in report["targets"]}


@pytest.fixture(scope="module")
def action_emulator() -> Iterator[killkit.Served]:
    with killkit.served() as emu:
        yield emu


@pytest.fixture(scope="module")
def action_baseline(
    action_emulator: killkit.Served, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[str, int | None]]:
    before = executed(action_emulator)
    report = run_killed(action_emulator, tmp_path_factory.mktemp("baseline"), "base", None)
    assert_once(action_emulator, report, before)
    got = outcome(report)
    assert {status for status, _ in got.values()} >= {"Succeeded", "Failed", "Skipped"}
    return got


def assert_once(
    emu: killkit.Served, report: dict[str, Any], before: Counter[tuple[str, str]]
) -> None:
    ran = executed(emu)
    ran.subtract(before)
    for target in report["targets"]:
        key = target["id"].lower()
        counts = (ran[key, "accepted"], ran[key, "started"])
        expected = 1 if target["status"] in ("Succeeded", "Failed") else 0
        assert counts == (expected, expected), (target["name"], target["status"], counts)


@pytest.mark.parametrize("point", POINTS)
def test_kill_around_the_post_then_resume(
    action_emulator: killkit.Served,
    action_baseline: dict[str, tuple[str, int | None]],
    tmp_path: Path,
    point: str,
) -> None:
    before = executed(action_emulator)
    report = run_killed(action_emulator, tmp_path, "kill-" + point.replace(":", "-"), point)
    assert outcome(report) == action_baseline
    assert report["ended"] == "completed"
    assert_once(action_emulator, report, before)

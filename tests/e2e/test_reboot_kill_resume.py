"""SIGKILL fleet while it reboots VMs — at each reboot failpoint: the restart journaled but not
sent, sent but its answer not journaled, accepted, and while waiting for the VM — then ``fleet
resume``: no VM is ever restarted twice (the emulator's ground truth), exactly the VMs whose
script asked are restarted, the waits are finished (app-11's agent never comes back:
RebootTimedOut), every script ran once, and the run completes.

Each test gets its own emulator process (a VM restarted by one test would still be coming back,
or dead, in the next) serving the small estate with fast restarts and a script that prints
"REBOOT REQUIRED" on about half the VMs (the emulator's seeded outcomes)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import simkit
from tests.e2e import killkit
from tests.simkit import ROOT

SCALE = 100
MARKER = "REBOOT REQUIRED\n"
JOB = """\
name: {name}
targets: {{all: true}}
script:
  inline: |
    echo "patching $(hostname)"
  timeout: 300
rollout:
  batches: [4, "100%"]
  reboot: if-required
  reboot_marker: '^REBOOT REQUIRED$'
  reboot_timeout: 3m
"""


def _fixed(seconds: float) -> dict[str, float]:
    return {"median": seconds, "sigma": 0.0, "min": seconds, "max": seconds}


def _profile(tmp: Path, *, boot: float = 30, agent: float = 20, run: float = 5) -> Path:
    profile = simkit.profile(
        "small",
        restart={
            "operation": _fixed(min(5, boot)), "boot": _fixed(boot), "agent": _fixed(agent),
            "slow": {"names": ["app-10"], "agent": _fixed(100)},
            "agent_never": {"names": ["app-11"]},
        },
        script={
            "pending": _fixed(1), "duration": _fixed(run), "behaviours": [],
            "unknown": "outcomes",
            "outcomes": [
                {"name": "ok", "weight": 0.5, "output": "{vm_name}: patched\n"},
                {"name": "reboot", "weight": 0.5, "output": "{vm_name}: patched\n" + MARKER},
            ],
        },
        overrides=[
            {"names": ["app-12"], "power_state": "deallocated"},
            {"names": ["app-01", "app-10", "app-11", "vmss-small_0"], "outcome": "reboot"},
        ],
    )  # fmt: skip
    path = tmp / "reboots.yaml"
    path.write_text(yaml.safe_dump(profile.model_dump(mode="json", exclude_unset=True)))
    return path


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[killkit.Served]:
    with killkit.served(str(_profile(tmp_path)), time_scale=SCALE) as emu:
        yield emu


def _runner(emu: killkit.Served, tmp: Path, job: Path, *more: str) -> list[str]:
    return [
        sys.executable, "-m", "tests.e2e.reboot_runner", *more[:1], emu.endpoint, emu.ca_cert,
        emu.subscription, str(SCALE), str(tmp / "state"), str(job), *more[1:],
    ]  # fmt: skip


def kill_and_resume(emu: killkit.Served, tmp: Path, job: str, failpoint: str) -> dict[str, Any]:
    """Run the rebooting job until the failpoint kills it, then resume it to its end."""
    spec = tmp / f"{job}.yaml"
    spec.write_text(JOB.format(name=job))
    env = killkit.fleet_env(tmp / "state", failpoint)
    killed = subprocess.run(
        _runner(emu, tmp, spec, "run"), cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=240,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, f"the failpoint must fire: {killed.stderr}"
    printed = re.search(r"run id: (\S+)", killed.stdout)
    assert printed is not None, killed.stdout
    env.pop("FLEET_FAILPOINT")
    resumed = subprocess.run(
        _runner(emu, tmp, spec, "resume", printed.group(1)), cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    report: dict[str, Any] = json.loads(resumed.stdout.splitlines()[-1])
    return report


POINTS = [
    "after-reboot-intent:1", "after-reboot-intent:3",
    "after-restart:1", "after-restart:4",
    "after-reboot-accepted:2",
    "after-reboot-read:1", "after-reboot-read:9",
]  # fmt: skip


@pytest.mark.parametrize("point", POINTS)
def test_kill_during_reboots_then_resume(
    emulator: killkit.Served, tmp_path: Path, point: str
) -> None:
    job = "reboot-" + point.replace(":", "-")
    report = kill_and_resume(emulator, tmp_path, job, point)
    executions = emulator.truth("executions")["executions"]
    asked = {
        r["target"] for r in executions
        if r["run_command"] == f"fleet-{job}" and r["outcome"] == "reboot"
    }  # fmt: skip
    restarts = emulator.truth("restarts")["restarts_per_target"]
    assert restarts == dict.fromkeys(asked, 1)  # never twice, never one not asked for
    assert report["ended"] == "completed"
    executed = emulator.truth("executions")["executed_per_target"]
    for target in report["targets"]:  # every script ran once (a reboot after it included)
        ran = target["status"] not in ("Skipped", "NotStarted")
        count = executed.get(target["id"], {}).get(f"fleet-{job}", 0)
        assert count == (1 if ran else 0), (target["name"], target["status"], count)
    for target in report["targets"]:
        name, reboot = target["name"], target["reboot"]
        if target["id"] not in asked:
            assert reboot is None, name
            assert target["status"] in ("Succeeded", "Skipped"), (name, target["reason"])
        elif name == "app-11":  # its agent never comes back
            assert (target["status"], reboot["outcome"]) == ("RebootTimedOut", "timed-out")
        else:
            assert (target["status"], reboot["outcome"]) == ("Succeeded", "done"), target
            assert reboot["seconds_to_ready"] is not None
    assert report["reboots"]["required"] == len(asked)
    assert report["reboots"]["done"] == len(asked) - 1


def test_fleet_resume_finishes_a_reboot_whose_answer_was_lost(tmp_path: Path) -> None:
    """The CLI's own ``fleet run`` and ``fleet resume`` (which keep Azure's time against an
    ``--arm-endpoint``, so the emulator runs at time scale 1 and VMs reboot in 4 s here): killed
    right after Azure accepted a restart, before that was journaled; the resume finds the
    restart in the instance view, never sends it again, and waits for the VM."""
    names = ("app-01", "app-02", "app-04", "vmss-small_0")
    with killkit.served(str(_profile(tmp_path, boot=2, agent=2, run=1)), time_scale=1) as emu:
        env = killkit.fleet_env(tmp_path / "state", "after-restart:1")
        spec = tmp_path / "job.yaml"
        job = JOB.format(name="cli-reboot").replace("{all: true}", f"{{names: {list(names)}}}")
        spec.write_text(job.replace("batches: [4,", "batches: [2,"))
        proc = killkit.start_run(emu, spec, env)
        _, stderr = proc.communicate(timeout=240)
        assert proc.returncode == -signal.SIGKILL, stderr
        env.pop("FLEET_FAILPOINT")
        run_id = killkit.run_id_of("cli-reboot", env)
        shown = subprocess.run(
            [*killkit.FLEET, "show", run_id, "-o", "json"], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
        rebooting = [t for t in json.loads(shown)["targets"] if "rebooting" in (t["reason"] or "")]
        # killed with a restart in flight: fleet show says which VMs were rebooting
        assert rebooting and all(t["status"] == "Running" for t in rebooting), shown
        assert {t["name"] for t in rebooting} <= {"app-01", "app-02"}, shown
        done = killkit.resume(run_id, env, tmp_path / "report.json")
        assert done.returncode == 0, done.stderr
        report = json.loads((tmp_path / "report.json").read_text())
        executions = emu.truth("executions")["executions"]
        restarts = emu.truth("restarts")["restarts_per_target"]
    asked = {r["target"] for r in executions if r["outcome"] == "reboot"}
    assert asked and restarts == dict.fromkeys(asked, 1)
    assert report["ended"] == "completed"
    outcomes = {
        t["name"]: (t["status"], (t["reboot"] or {}).get("outcome")) for t in report["targets"]
    }
    assert outcomes["app-01"] == ("Succeeded", "done")  # forced to ask, above
    assert report["reboots"]["done"] == len(asked)

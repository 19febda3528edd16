"""Kill-and-resume harness: an emulator in its own process (it must outlive the fleet process
we SIGKILL), fleet runs through ``--arm-endpoint``, and the emulator's ground truth.

The emulator is pessimistic by default: an identical PUT runs the script again
(``identical_put_reruns``) and ``DROPPED_PUTS`` lose the answer to some run-command PUTs after
they took effect — so a PUT sent twice, by fleet or by any layer under it, shows as a second
execution and a request the journal does not account for (``tests.e2e.once``)."""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e import once
from tests.simkit import ROOT

FLEET = [sys.executable, "-m", "fleet.cli.main"]
#: A fifth of the run-command PUTs take effect and then lose their connection.
DROPPED_PUTS = {
    "connection_resets": {
        "rate": 0.2, "after_processing": 1.0, "methods": ["PUT"],
        "operations": ["*RunCommands_CreateOrUpdate"],
    }
}  # fmt: skip


@dataclass
class Served:
    endpoint: str
    ca_cert: str
    subscription: str  # the first
    subscriptions: tuple[str, ...] = ()

    def args(self, *, ca: bool = True) -> list[str]:
        """The connection flags of a run against this emulator."""
        flags = ["--arm-endpoint", self.endpoint, "--subscription", self.subscription]
        return [*flags, "--ca-cert", self.ca_cert] if ca else flags

    def truth(self, what: str) -> dict[str, Any]:
        return self._call("GET", what)

    def control(self, what: str, body: dict[str, Any]) -> dict[str, Any]:
        """``PUT /_sim/<what>`` (``settings``, ``faults``)."""
        return self._call("PUT", what, body)

    def _call(self, method: str, what: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        ctx = ssl.create_default_context(cafile=self.ca_cert)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.endpoint}/_sim/{what}", data, method=method)
        with urllib.request.urlopen(request, context=ctx, timeout=20) as resp:
            return json.loads(resp.read())


@contextmanager
def served(
    profile: str = "small",
    time_scale: float = 50,
    *,
    identical_put_reruns: bool = True,
    faults: dict[str, Any] | None = None,
) -> Iterator[Served]:
    """``fleet sim serve`` in its own process; by default pessimistic (see the module doc) but
    without request faults."""
    proc = subprocess.Popen(
        [*FLEET, "sim", "serve", "--profile", profile, "--time-scale", str(time_scale)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        subs = tuple(info["subscriptions"])
        emu = Served(info["endpoint"], info["ca_cert"], subs[0], subs)
        emu.control("settings", {"identical_put_reruns": identical_put_reruns})
        if faults is not None:
            emu.control("faults", faults)
        yield emu
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def job_file(directory: Path, name: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(
        f"name: {name}\n"
        "targets: {all: true}\n"
        'script:\n  inline: |\n    echo "checking $(hostname)"\n  timeout: 300\n'
    )
    return path


def fleet_env(state_dir: Path, failpoint: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FLEET_FAILPOINT"}
    env.update(FLEET_ACCESS_TOKEN="fleet-sim-token", FLEET_STATE_DIR=str(state_dir))
    if failpoint:
        env["FLEET_FAILPOINT"] = failpoint
    return env


def start_run(emu: Served, spec: Path | list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """``fleet run`` of a job file, or of the job flags ``spec``, against ``emu``."""
    job = [str(spec)] if isinstance(spec, Path) else spec
    args = [
        "run", *job, "--arm-endpoint", emu.endpoint, "--ca-cert", emu.ca_cert,
        "--subscription", emu.subscription, "--yes",
    ]  # fmt: skip
    return subprocess.Popen(
        [*FLEET, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def run_id_of(job: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [*FLEET, "runs", "-o", "json"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    ids = [r["run_id"] for r in json.loads(out) if r["job"] == job]
    assert len(ids) == 1, out
    return ids[0]


def resume(run_id: str, env: dict[str, str], report: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLEET, "resume", run_id, "--report", str(report)], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def outcome(report: Path) -> dict[str, tuple[str, int | None]]:
    data = json.loads(report.read_text())
    return {t["id"].lower(): (t["status"], t["exit_code"]) for t in data["targets"]}


def _until_run_id(proc: subprocess.Popen[str], timeout: float = 120) -> str:
    """Read the run's stderr up to its ``run id:`` line (printed once the run is journaled)."""
    assert proc.stderr is not None
    seen, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:  # it ended before printing a run id
            return seen
        seen += line
        if "run id:" in line:
            return seen
    raise AssertionError(f"no run id within {timeout} s: {seen}")


def kill_and_resume(
    emu: Served,
    tmp: Path,
    job: str,
    *,
    failpoint: str | None = None,
    kill_after: float | None = None,
) -> tuple[dict[str, Any], int]:
    """Run ``job``, kill it (failpoint or timer), resume it; return (report, exit code)."""
    env = fleet_env(tmp / "state", failpoint)
    proc = start_run(emu, job_file(tmp, job), env)
    head = ""
    if kill_after is not None:
        head = _until_run_id(proc)  # the run is journaled: kill it somewhere in flight
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    _, rest = proc.communicate(timeout=240)
    stderr = head + rest
    killed = proc.returncode == -signal.SIGKILL
    assert killed or proc.returncode in (0, 1), stderr
    env.pop("FLEET_FAILPOINT", None)
    printed = re.search(r"run id: (\S+)", stderr)
    run_id = printed.group(1) if printed else run_id_of(job, env)
    report = tmp / f"{job}.json"
    if killed:
        done = resume(run_id, env, report)
        assert done.returncode in (0, 1), done.stderr
    else:  # it finished before the kill: its journal must say so
        shown = subprocess.run(
            [*FLEET, "show", run_id, "--format", "json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        report.write_text(shown.stdout)
    return json.loads(report.read_text()), proc.returncode


def assert_exactly_once(emu: Served, report: dict[str, Any], job: str, state: Path) -> None:
    """Every target of ``report`` ran at most once and only if reported so, and the PUTs that
    reached Azure are the ones the journal in ``state`` says were sent (``tests.e2e.once``)."""
    statuses = {t["id"]: t["status"] for t in report["targets"]}
    sent = once.journal_puts(state, report["run_id"])
    found = once.problems(emu.truth("executions"), statuses, f"fleet-{job}", sent)
    assert not found, "\n".join(found)
    assert once.put_throttles(emu.truth("stats")) == 0  # else a 429 re-send adds a request

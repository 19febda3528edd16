"""Throttling end to end (issues #17 and #9): an emulator process at real timing (time scale 1)
serving a fleet of short scripts, its Compute header dialect and background load, and ``fleet
run`` / ``fleet resume`` processes against it (``tests/e2e/killkit.py`` does the processes).

Assertions are on the emulator's ground truth — 429s sent (``/_sim/stats``), executions per
target (``/_sim/executions``), what the background spent (``/_sim/background``) — never on time.
"""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from fleet.api.run import run_async
from fleet.azure.backend import ConnectionSettings, azure_backend
from fleet.model import JobSpec, RunReport, ScriptSource, ScriptSpec, Secret, Selector, SourceKind
from tests.e2e import killkit

SUB = "55555555-5555-4555-8555-000000000017"


def profile_file(
    directory: Path, vms: int, *, headers: str = "current", missing: float = 0.0
) -> Path:
    """``vms`` Linux VMs in one subscription and region, scripts of a few seconds, no faults,
    Azure's published throttling in header dialect ``headers`` (a ``missing`` share of
    responses without a Compute header)."""
    profile = {
        "name": "learn-bucket",
        "description": f"{vms} VMs, short scripts, published throttling ({headers} headers)",
        "seed": 17,
        "subscriptions": [
            {
                "id": SUB,
                "name": "learn",
                "resource_groups": [
                    {
                        "name": "rg-learn",
                        "location": "eastus",
                        "vms": [{"count": vms, "name": "learn-{i:03d}", "zones": ["1", "2"]}],
                    }
                ],
            }
        ],
        "script": {
            "pending": {"median": 1, "sigma": 0.3, "min": 0.5, "max": 3},
            "duration": {"median": 2, "sigma": 0.3, "min": 1, "max": 5},
            "outcomes": [{"name": "ok", "weight": 1.0, "exit_code": 0, "output": "OK {hostname}"}],
        },
        "faults": {},
        "throttling": {"enabled": True, "headers": headers, "headers_missing": missing},
    }
    path = directory / f"learn-{vms}-{headers}.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


@contextmanager
def served(profile: Path, time_scale: float = 1.0) -> Iterator[killkit.Served]:
    with killkit.served(str(profile), time_scale) as emu:
        yield emu


def control(emu: killkit.Served, method: str, what: str, body: Any = None) -> Any:
    """A ``/_sim`` control call (loopback, never throttled)."""
    ctx = ssl.create_default_context(cafile=emu.ca_cert)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{emu.endpoint}/_sim/{what}", data=data, method=method,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, context=ctx, timeout=20) as resp:
        return json.loads(resp.read())


def throttled(emu: killkit.Served) -> int:
    """429s the emulator sent, all requests of every client."""
    return int(emu.truth("stats")["throttled_total"])


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> str:
    _, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode in (0, 1), stderr
    return stderr


def kill_mid_launch(proc: subprocess.Popen[str], emu: killkit.Served, job: str, puts: int) -> str:
    """SIGKILL ``proc`` once ``puts`` run commands of ``job`` exist (in the middle of its
    launch: the write bucket is being spent); its stderr so far."""
    head = killkit._until_run_id(proc)  # journaled: from here on it can be resumed
    name = f"fleet-{job}"
    for _ in range(2400):  # bounded: at most ~120 s of 50 ms polls
        rows = emu.truth("runcommands")["run_commands"]
        if sum(1 for r in rows if r["name"] == name) >= puts:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "it must have been killed mid-launch"
    return head


async def run_library(emu: killkit.Served, job: str, time_scale: float) -> RunReport:
    """``job`` (an ``uptime`` on every VM) through the library on the Azure backend, told the
    emulator's time scale, without a journal."""
    spec = JobSpec(
        name=job,
        selector=Selector(),
        script=ScriptSpec(default=ScriptSource(SourceKind.INLINE, "uptime"), timeout_s=300),
    )
    settings = ConnectionSettings(
        arm_endpoint=emu.endpoint, ca_cert=emu.ca_cert, token=Secret("fleet-sim-token"),
        subscriptions=(emu.subscription,), time_scale=time_scale,
    )  # fmt: skip
    async with azure_backend(settings) as backend:
        return await run_async(spec, backend)


def executions(emu: killkit.Served, job: str) -> dict[str, int]:
    """Target id (as the emulator spells it) -> executions of ``job``'s run command."""
    name = f"fleet-{job}"
    per_target = emu.truth("executions")["executed_per_target"]
    return {target: runs.get(name, 0) for target, runs in per_target.items()}

"""Issue #9, "throttle headers fleet cannot name", end to end: ``fleet run`` against the emulator
in each Compute header dialect (``current``: our own names; ``windowed``: the older per-window
counters, resource and subscription alike, on one line or two; ``none``), with a share of
responses carrying no Compute header at all. Zero 429s and every target executed once, in every
dialect (ground truth); the makespans against the throttle bound are bench/README.md's.

With another principal having drained the region's Update VM bucket, fleet learns what is left
from the counts it can attribute (``current``, ``windowed``) and meets no 429; with no header
there is nothing to learn from, and the 429s are waited out: every target still runs once."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.e2e import killkit, throttlekit

pytestmark = pytest.mark.e2e


def _run(emu: killkit.Served, tmp: Path, job: str) -> None:
    env = killkit.fleet_env(tmp / "state")
    throttlekit.finish(killkit.start_run(emu, killkit.job_file(tmp, job), env))


def _ran_once(emu: killkit.Served, job: str, vms: int) -> None:
    runs = throttlekit.executions(emu, job)
    assert len(runs) == vms and set(runs.values()) == {1}


@pytest.mark.parametrize("dialect", ["current", "windowed", "none"])
def test_every_dialect_zero_429s_every_target_once(tmp_path: Path, dialect: str) -> None:
    vms = 200  # past the write burst: fleet paces on the counts it reads
    profile = throttlekit.profile_file(tmp_path, vms, headers=dialect, missing=0.2)
    with throttlekit.served(profile) as emu:
        _run(emu, tmp_path, f"dialect-{dialect}")
        assert throttlekit.throttled(emu) == 0
        _ran_once(emu, f"dialect-{dialect}", vms)


@pytest.mark.parametrize("dialect", ["current", "windowed", "none"])
def test_a_drained_compute_bucket_is_learnt_from_the_counts_fleet_can_attribute(
    tmp_path: Path, dialect: str
) -> None:
    """Through the library, which is told the emulator's time scale (the CLI against a custom
    endpoint models Azure's own time, so a per-minute step would be a wall minute here)."""
    vms = 120  # more than the 50 the other principal left: the rest comes with the next step
    profile = throttlekit.profile_file(tmp_path, vms, headers=dialect)
    with throttlekit.served(profile, time_scale=10) as emu:  # a minute's step every 6 s
        other = {"name": "other-team", "region": "eastus", "policy": "UpdateVM", "spent": 1450}
        throttlekit.control(emu, "POST", "background", {"compute": [other]})
        report = anyio.run(throttlekit.run_library, emu, f"drained-{dialect}", 10.0)
        assert {str(r.status) for r in report.results} == {"Succeeded"}
        if dialect == "none":
            assert throttlekit.throttled(emu) > 0  # nothing to learn from: 429s waited out
        else:
            assert throttlekit.throttled(emu) == 0
        _ran_once(emu, f"drained-{dialect}", vms)

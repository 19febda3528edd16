"""Kill fleet with SIGKILL at random moments of the run (after it is journaled), then
``fleet resume``: every target executed exactly once and the report equals an uninterrupted
run's. The exact-step kills are in test_kill_resume.py."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.e2e import killkit


@pytest.mark.parametrize("seed", range(8))
def test_kill_at_a_random_moment_then_resume(emulator, baseline, tmp_path: Path, seed: int) -> None:
    job = f"random-kill-{seed}"
    delay = random.Random(seed).uniform(0.0, 1.5)  # after the run id: mid-run
    report, code = killkit.kill_and_resume(emulator, tmp_path, job, kill_after=delay)
    assert code == -9, "the run must have been killed in flight"
    got = {t["id"].lower(): (t["status"], t["exit_code"]) for t in report["targets"]}
    assert got == baseline
    killkit.assert_exactly_once(emulator, report, job, tmp_path / "state")

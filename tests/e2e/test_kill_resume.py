"""Kill fleet with SIGKILL at exact steps (write-ahead intent written but PUT not sent; PUT
answered but not journaled; after the accept; after a final) and at random moments, then
``fleet resume``: every target executed exactly once (emulator ground truth) and the report
equals an uninterrupted run's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import killkit

POINTS = [
    "after-intent:1", "after-intent:4", "after-intent:9", "after-intent:15",
    "after-put:1", "after-put:3", "after-put:8", "after-put:14",
    "after-accepted:2", "after-accepted:10", "after-accepted:17",
    "after-final:1", "after-final:6", "after-final:13",
]  # fmt: skip


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_a_failpoint_then_resume(emulator, baseline, tmp_path: Path, point: str) -> None:
    job = "kill-" + point.replace(":", "-")
    report, code = killkit.kill_and_resume(emulator, tmp_path, job, failpoint=point)
    assert code == -9, "the failpoint must have fired"
    got = {t["id"].lower(): (t["status"], t["exit_code"]) for t in report["targets"]}
    assert got == baseline
    assert report["ended"] == "completed"
    killkit.assert_exactly_once(emulator, report, job, tmp_path / "state")

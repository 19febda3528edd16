"""``fleet serve`` killed outright (SIGKILL, at an exact step of a run: after the third PUT was
accepted) then started again: the run it left is resumed and completed, later fires go on, a
run in flight at SIGTERM is drained to its end, and no script ran twice on any target (the
emulator's ground truth, the emulator being its own process so it outlives the service). A
second service on the same state directory is refused."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from fleet.journal import Journal
from tests.e2e import killkit
from tests.serve import servekit

pytestmark = pytest.mark.e2e

JOB = """\
name: sweep
targets: {names: ["app-0*"]}
script: {inline: "echo sweeping"}
schedule: {every: 3s}
"""


def test_sigkill_mid_run_then_restart_resumes_it_exactly_once(tmp_path: Path) -> None:
    jobs, state = tmp_path / "jobs", tmp_path / "state"
    jobs.mkdir()
    (jobs / "sweep.yaml").write_text(JOB)
    with killkit.served(time_scale=50) as emu:
        args = [
            "--jobs", str(jobs), "--arm-endpoint", emu.endpoint, "--ca-cert", emu.ca_cert,
            "--subscription", emu.subscription,
        ]  # fmt: skip
        token = {"FLEET_ACCESS_TOKEN": "fleet-sim-token"}
        env = servekit.env_with(**token, FLEET_FAILPOINT="after-accepted:3")
        first = servekit.start(args, state, env, tmp_path / "first.log")
        first.proc.wait(timeout=120)
        assert first.proc.returncode == -signal.SIGKILL, first.log.read_text()
        with Journal.open(state, writable=False) as journal:
            [killed] = journal.runs()
            assert killed.ended == "crashed"

        again = servekit.start(args, state, servekit.env_with(**token), tmp_path / "again.log")
        try:
            second = subprocess.run(
                [*servekit.FLEET, "serve", *args, "--state-dir", str(state)],
                env=servekit.env_with(**token), capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert second.returncode == 3
            assert "fleet serve is already running on the state directory" in second.stderr
            assert f"pid {again.proc.pid}" in second.stderr
            servekit.wait_for(
                "the killed run to finish and a later run after it",
                lambda: (
                    again.history().run(killed.run_id).finished
                    and len([r for r in again.history().runs("sweep") if r.finished]) >= 2
                ),
            )
            in_flight = servekit.wait_for(  # SIGTERM with a run in flight: it is drained
                "a run in flight",
                lambda: [r.run_id for r in again.history().runs("sweep") if not r.finished],
                timeout=60,
            )
        finally:
            log = again.stop()
        assert again.proc.returncode == 0, log
        assert "SIGTERM: fleet serve stops scheduling" in log
        executed = emu.truth("executions")["executed_per_target"]

    with Journal.open(state, writable=False) as journal:
        resumed = journal.run(killed.run_id)
        assert (resumed.ended, resumed.resumes) == ("completed", 1)
    history = again.history()
    runs = history.runs("sweep")
    assert all(r.finished for r in runs) and len(runs) >= 3
    assert history.run(in_flight[0]).ended == "completed"  # drained, not cut off
    ran: dict[str, int] = {}
    for run in runs:
        for verdict in history.verdicts(run.run_id).targets:
            if verdict.status.value in ("Succeeded", "Failed"):
                ran[verdict.target.id] = ran.get(verdict.target.id, 0) + 1
    assert len(ran) == 9
    assert {t: executed.get(t, {}).get("fleet-sweep", 0) for t in ran} == ran

"""``fleet serve --temporal`` end to end, every part a process: the job's schedule is a Temporal
Schedule, a worker runs every fire, a fire while the job's run is in flight is skipped (and
shown on the schedules page), and the service records each run in its journal for its views.
SIGKILL the service: the schedule fires and the runs run all the same; start it again and it
records the runs that ended while it was away."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path

import pytest

from fleet.history import History
from fleet.journal import Journal
from tests.e2e import killkit
from tests.serve import servekit
from tests.temporal.conftest import Space
from tests.temporal.procs import fleet, on, slow_pair, worker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
SCALE = 20.0
JOB = """\
name: pulse
targets: {names: ["east-0*"]}
script: {inline: "echo checking", timeout: 600}
schedule: {every: 2s}
"""


def finished(state: Path) -> list[str]:
    with Journal.open(state, writable=False) as journal:
        return [r.run_id for r in History(journal).runs("pulse") if r.finished]


def on_temporal(space: Space, state: Path) -> list[dict[str, object]]:
    shown = fleet(["runs", *on(space), "--job", "pulse", "-o", "json"], state)
    assert shown.returncode == 0, shown.stderr
    return [r for r in json.loads(shown.stdout) if r["ended"] == "completed"]


def test_serve_on_temporal_goes_on_without_the_service(space: Space, tmp_path: Path) -> None:
    jobs, state = tmp_path / "jobs", tmp_path / "serve-state"
    jobs.mkdir()
    (jobs / "pulse.yaml").write_text(JOB)
    args = ["--jobs", str(jobs), *on(space), "--time-scale", str(SCALE)]
    env = servekit.env_with()
    with (
        killkit.served(str(slow_pair(tmp_path)), SCALE) as emu,
        worker(space, emu, SCALE, emu.subscriptions, tmp_path / "worker-state"),
    ):
        serve = servekit.start(args, state, env, tmp_path / "serve.log")
        assert serve.ready["jobs"] == ["pulse"] and serve.ready["simulated"] is False
        servekit.wait_for("two runs in the journal", lambda: len(finished(state)) >= 2)
        page = f"{serve.ready['listen']}/api/schedules"
        with urllib.request.urlopen(page, timeout=30) as resp:
            shown = resp.read().decode()
        assert "skipped-overlap" in shown and "launched" in shown
        serve.stop(signal.SIGKILL)
        away = len(on_temporal(space, state))
        servekit.wait_for(  # the schedule goes on without the service
            "two more runs on Temporal", lambda: len(on_temporal(space, state)) >= away + 2
        )
        made = {str(r["run_id"]) for r in on_temporal(space, state)}
        again = servekit.start(args, state, env, tmp_path / "serve-again.log")
        servekit.wait_for(  # every run of the schedule that ended meanwhile is in the journal
            "the runs made meanwhile", lambda: made <= set(finished(state))
        )
        log = again.stop()
        truth = emu.truth("executions")
    recorded = set(finished(state))
    assert "Traceback" not in log
    ran = [n for n in truth["executed_per_target"].values() if n.get("fleet-pulse")]
    assert len(ran) == 9  # east-01 .. east-09
    assert all(n["fleet-pulse"] >= len(made) for n in ran)
    with Journal.open(state, writable=False) as journal:
        verdicts = History(journal).verdicts(sorted(recorded)[0])
    by_name = {v.target.name: v.verdict.value for v in verdicts.targets}
    assert by_name["east-04"] == "fail" and by_name["east-02"] == "pass"  # east-04: disk full

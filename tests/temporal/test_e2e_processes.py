"""End to end, every part a process of its own (issue #14's "done when"): the emulator with two
subscriptions, two ``fleet worker`` processes, ``fleet run/resume/show/runs --temporal`` and the
Temporal dev server.

- The report of a run on Temporal equals a local run's per-target outcomes.
- SIGKILL of the submitting client, then of one worker mid-run: the run finishes on the other
  worker, every target executed exactly once (the emulator's ground truth), no 429, and
  ``fleet show`` reports the finished run.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import anyio
import pytest

from tests.e2e import killkit
from tests.temporal.conftest import Space
from tests.temporal.procs import (
    connection,
    fleet,
    job_file,
    on,
    outcomes,
    run_id_from,
    slow_pair,
    start,
    wait_for,
    worker,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_the_report_on_temporal_equals_a_local_runs(space: Space, tmp_path: Path) -> None:
    scale = 20.0
    state = tmp_path / "state"
    with killkit.served("pair", scale) as emu:
        subs = [a for s in emu.subscriptions for a in ("--subscription", s)]
        local = fleet(
            ["run", str(job_file(tmp_path, "local")), *connection(emu, scale), *subs, "--yes",
             "--report", str(tmp_path / "local.json")], state,
        )  # fmt: skip
        assert local.returncode == 1, local.stderr  # two targets fail: disk full
        with (
            worker(space, emu, scale, emu.subscriptions, state),
            worker(space, emu, scale, emu.subscriptions, state),
        ):
            remote = fleet(
                ["run", str(job_file(tmp_path, "remote")), *on(space), *connection(emu, scale),
                 *subs, "--yes", "--report", str(tmp_path / "remote.json")], state,
            )  # fmt: skip
        truth = emu.truth("executions")
        stats = emu.truth("stats")
    assert remote.returncode == 1, remote.stderr
    assert "run id:" in remote.stderr and "on Temporal" in remote.stderr
    local_doc = json.loads((tmp_path / "local.json").read_text())
    remote_doc = json.loads((tmp_path / "remote.json").read_text())
    assert outcomes(remote_doc) == outcomes(local_doc)
    assert len(outcomes(remote_doc)) == 32 and remote_doc["ended"] == "completed"
    ran = [t for t in remote_doc["targets"] if t["status"] in ("Succeeded", "Failed")]
    assert len(ran) == 31
    assert all(truth["executed_per_target"][t["id"]]["fleet-remote"] == 1 for t in ran)
    assert stats["throttled_total"] == 0


def test_killing_the_client_and_a_worker_loses_nothing(space: Space, tmp_path: Path) -> None:
    """The doomed worker runs alone until ten targets started (so it holds the workflow and
    work in flight), then a second worker starts and the first is SIGKILLed."""
    scale = 20.0  # scripts take ~60 s (Azure): 3 s here, so there is a "mid-run" to kill in
    state = tmp_path / "state"
    job = job_file(tmp_path, "survive", "rollout:\n  batches: [4, 50%, 100%]\n")
    with killkit.served(str(slow_pair(tmp_path)), scale) as emu:
        subs = [a for s in emu.subscriptions for a in ("--subscription", s)]
        with worker(space, emu, scale, emu.subscriptions, state) as doomed:
            client = start(
                ["run", str(job), *on(space), *connection(emu, scale), *subs, "--yes",
                 "--heartbeat", "3"], state,
            )  # fmt: skip
            run_id = run_id_from(client)
            client.send_signal(signal.SIGKILL)  # the run is on Temporal: it goes on
            client.wait(timeout=30)

            def started() -> bool:
                return emu.truth("executions")["started"] >= 10

            wait_for("ten targets started", started)
            with worker(space, emu, scale, emu.subscriptions, state):
                doomed.send_signal(signal.SIGKILL)  # mid-run: its work goes to the other
                doomed.wait(timeout=30)
                report = tmp_path / "r.json"
                followed = fleet(["resume", run_id, *on(space), "--report", str(report)], state)
                shown = fleet(["show", run_id, *on(space), "-o", "json"], state)
                listed = fleet(["runs", *on(space), "-o", "json"], state)
        truth = emu.truth("executions")
        stats = emu.truth("stats")
    assert client.returncode == -signal.SIGKILL
    assert followed.returncode == 1, followed.stderr  # two targets fail: disk full
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document == json.loads(report.read_text())
    assert document["ended"] == "completed"
    ran = [t for t in document["targets"] if t["status"] in ("Succeeded", "Failed")]
    assert len(ran) == 31 and len(document["targets"]) == 32
    assert all(truth["executed_per_target"][t["id"]]["fleet-survive"] == 1 for t in ran)
    assert stats["throttled_total"] == 0
    rows = json.loads(listed.stdout)
    assert [(r["run_id"], r["job"], r["ended"]) for r in rows] == [(run_id, "survive", "completed")]
    assert anyio.run(retried_activities, space, run_id) > 0  # work really moved


def test_a_worker_killed_right_after_a_put_never_runs_a_script_twice(
    space: Space, tmp_path: Path
) -> None:
    """The only worker SIGKILLs itself right after Azure answered its third PUT (a launch
    activity half done: some PUTs sent, some not); a second worker retries the activity, reads
    Azure first and sends only what never arrived. The emulator re-runs an identical PUT, so
    a blind re-send would show as a second execution."""
    scale = 20.0
    state = tmp_path / "state"
    job = job_file(tmp_path, "once")
    with killkit.served("pair", scale) as emu:
        subs = [a for s in emu.subscriptions for a in ("--subscription", s)]
        with worker(space, emu, scale, emu.subscriptions, state, "after-put:3") as doomed:
            client = start(
                ["run", str(job), *on(space), *connection(emu, scale), *subs, "--yes",
                 "--heartbeat", "3", "--report", str(tmp_path / "r.json")], state,
            )  # fmt: skip
            run_id = run_id_from(client)
            doomed.wait(timeout=60)  # it killed itself
            with worker(space, emu, scale, emu.subscriptions, state):
                _, stderr = client.communicate(timeout=240)
        truth = emu.truth("executions")
    assert doomed.returncode == -signal.SIGKILL
    assert client.returncode == 1, stderr  # two targets fail: disk full
    document = json.loads((tmp_path / "r.json").read_text())
    ran = [t for t in document["targets"] if t["status"] in ("Succeeded", "Failed")]
    assert len(ran) == 31 and document["ended"] == "completed"
    assert all(truth["executed_per_target"][t["id"]]["fleet-once"] == 1 for t in ran)
    assert anyio.run(retried_activities, space, run_id) > 0  # the launch was retried


async def retried_activities(space: Space, run_id: str) -> int:
    """Activities of the run (in its parts, the child workflows) that a second attempt started
    (the first one's worker died)."""
    from fleet.temporal.connection import connect

    client = await connect(space.target, space.namespace)
    workflow_ids, retried = [f"fleet-run-{run_id}"], 0
    while workflow_ids:
        handle = client.get_workflow_handle(workflow_ids.pop())
        async for event in handle.fetch_history_events():
            if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
                child = event.start_child_workflow_execution_initiated_event_attributes
                workflow_ids.append(child.workflow_id)
            if event.HasField("activity_task_started_event_attributes"):
                retried += event.activity_task_started_event_attributes.attempt > 1
    return retried

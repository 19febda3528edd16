"""A run's passes handed to child workflows, one per subscription (``fleet-part``): the run's own
history holds no activity, only its parts, so it stays small whatever the number of targets
(Temporal force-closes a workflow task when more than 100 events buffer up while it runs, and
replays the whole history after; see ``fleet.temporal.workflows``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType

from fleet.api import run_async
from fleet.sim.profile import Profile
from fleet.temporal import names
from tests import simkit
from tests.temporal.conftest import Space
from tests.temporal.harness import on_temporal
from tests.temporal.test_run_inprocess import job_file, on_temporal_run, outcomes

pytestmark = pytest.mark.anyio

NORTH = "00000000-0000-4000-8000-0000000000e3"


def three_subscriptions() -> Profile:
    """``pair`` and a third subscription of 6 VMs."""
    pair = simkit.profile("pair").model_dump(mode="json", exclude_unset=True)
    north: dict[str, Any] = {
        "id": NORTH, "name": "pair-north",
        "resource_groups": [{
            "name": "rg-north", "location": "northeurope", "tags": {"env": "test"},
            "vms": [{"count": 6, "name": "north-{i:02d}", "tags": {"env": "test"}}],
        }],
    }  # fmt: skip
    return simkit.profile("pair", subscriptions=[*pair["subscriptions"], north])


async def test_a_run_over_three_subscriptions_runs_in_three_child_workflows(
    space: Space, tmp_path: Path
) -> None:
    local_job, remote_job = job_file(tmp_path, "local3"), job_file(tmp_path, "remote3")
    async with on_temporal(space, three_subscriptions(), workers=2) as fleet:
        local = await run_async(local_job.spec, fleet.backend)
        remote = await on_temporal_run(fleet, remote_job)
        handle = fleet.client.get_workflow_handle(names.run_workflow_id(remote.run_id))
        history = await handle.fetch_history()
        truth = await simkit.ground_truth(fleet.emu, "executions")
    assert outcomes(remote) == outcomes(local)
    assert len(remote.results) == 38 and remote.ended == "completed"
    kinds = [e.event_type for e in history.events]
    started = [
        e.start_child_workflow_execution_initiated_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ]
    assert sorted(a.workflow_type.name for a in started) == [names.PART_WORKFLOW] * 3
    subs = {r.target.subscription.lower() for r in remote.results}
    assert len(subs) == 3
    assert {a.workflow_id[-len(NORTH) :] for a in started} == subs
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in kinds
    ran = [r for r in remote.results if r.status.value in ("Succeeded", "Failed")]
    assert len(ran) == 37  # east-12 is deallocated
    for result in ran:
        assert truth["executed_per_target"][result.target.id]["fleet-remote3"] == 1
    assert remote.arm.requests.get("writes", 0) == 37  # the parts' ARM counts reach the report

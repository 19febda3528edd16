"""What the server says about fleet's task queues: who polls them, and the dispatch limit it
enforces on a subscription's write queue. A run whose subscriptions no worker serves would wait
forever, so ``fleet run --temporal`` refuses it before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable

from temporalio.api.enums.v1 import RateLimitSource, TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, DescribeTaskQueueResponse
from temporalio.client import Client

from fleet.errors import ConnectionSetupError
from fleet.model import RunPlan
from fleet.temporal import names

_WORKER = RateLimitSource.RATE_LIMIT_SOURCE_WORKER


async def _describe(
    client: Client, queue: str, kind: TaskQueueType.ValueType
) -> DescribeTaskQueueResponse:
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        task_queue_type=kind,
    )
    return await client.workflow_service.describe_task_queue(request)


async def pollers(client: Client, queue: str, *, activities: bool = True) -> list[str]:
    """The identities of the workers that polled ``queue`` lately."""
    kind = (
        TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
        if activities
        else TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
    )
    answer = await _describe(client, queue, kind)
    return [p.identity for p in answer.pollers]


async def write_limit(client: Client, subscription: str) -> float | None:
    """The activities a second the server dispatches from ``subscription``'s write queue, as
    the workers that poll it set it (None until the server applies a worker's limit: for a
    moment after the first poll it still reports its own default, 4,000 a second, as
    ``RATE_LIMIT_SOURCE_SYSTEM``)."""
    answer = await _describe(
        client, names.writes_queue(subscription), TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
    )
    limit = answer.effective_rate_limit
    if not answer.HasField("effective_rate_limit") or limit.rate_limit_source != _WORKER:
        return None
    return limit.requests_per_second or None


async def unserved(client: Client, subscriptions: Iterable[str]) -> list[str]:
    """The subscriptions whose write or read queue no worker polls."""
    missing = []
    for sub in sorted({s.lower() for s in subscriptions}):
        for queue in (names.writes_queue(sub), names.reads_queue(sub)):
            if not await pollers(client, queue):
                missing.append(sub)
                break
    return missing


async def check_workers(client: Client, plan: RunPlan) -> None:
    """``ConnectionSetupError`` (exit code 2, nothing sent) unless workers poll the control
    queue and the queues of every subscription ``plan`` writes to."""
    subs = {t.subscription for t in (*plan.targets, *plan.sentinels)}
    missing = await unserved(client, subs)
    if not await pollers(client, names.CONTROL_QUEUE, activities=False):
        missing.insert(0, "(the control queue)")
    if missing:
        message = (
            f"no fleet worker serves {', '.join(missing)} on Temporal (namespace "
            f"{client.namespace}): start one with `fleet worker --temporal ... --subscription "
            "ID` for each subscription; nothing was sent."
        )
        raise ConnectionSetupError(message)

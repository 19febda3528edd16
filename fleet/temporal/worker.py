"""A fleet worker process: its own ARM connection (clients and throttle model), serving the
control queue (the workflows, ``prepare``) and the write and read queues of its subscriptions.

Each write queue is rate-limited by the server (``max_task_queue_activities_per_second``, set by
every worker that polls it, to the same ``names.write_rate``): the server dispatches at most
that many launch, tidy and interrupt activities a second to all workers together, so any number
of workers stays within fleet's share of the subscription's write budget (the server divides the
limit equally over the queue's partitions, each with a burst of ``ceil`` of its share, at least
one: temporalio/temporal, service/matching/matcher.go, ``TaskMatcher.UpdateRatelimit``; it
reports the limit in ``DescribeTaskQueue`` as ``effective_rate_limit``). Eager activity
execution is off: an activity started on the workflow's own worker would skip the server's
queue, and its limit.

The workflows run in the SDK's sandbox with fleet's modules passed through (imported once, not
per run): they are deterministic (``fleet.temporal.rollout`` does no I/O and reads no clock but
the workflow's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta

import anyio
import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from fleet.ports import Backend
from fleet.temporal import names
from fleet.temporal.activities import RunActivities
from fleet.temporal.workflows import FireWorkflow, PartWorkflow, RunWorkflow

log = structlog.get_logger("fleet.temporal")

SHUTDOWN_GRACE = timedelta(seconds=10)  # a stopped worker's activities get this long to end
STOP_LIMIT_S = 30.0  # the longest a worker takes to stop
#: Watch activities one worker runs at once per subscription: they mostly wait for their next
#: read, and a subscription may have thousands of targets in flight (8 per watch).
WATCHES = 1000


@dataclass(frozen=True)
class WorkerPlan:
    """The queues one worker polls and the write queues' server-side limit."""

    subscriptions: tuple[str, ...]
    write_rate: float  # activities per second, all workers together, per write queue

    @property
    def queues(self) -> list[str]:
        subs = self.subscriptions
        return [
            names.CONTROL_QUEUE,
            *(f(s) for s in subs for f in (names.writes_queue, names.reads_queue)),
        ]


def worker_plan(subscriptions: Sequence[str], time_scale: float, safety: float = 0.9) -> WorkerPlan:
    unique = tuple(dict.fromkeys(s.lower() for s in subscriptions))
    return WorkerPlan(unique, names.write_rate(time_scale, safety))


def _sandbox() -> SandboxedWorkflowRunner:
    restrictions = SandboxRestrictions.default.with_passthrough_modules(
        "fleet", "structlog", "anyio", "sniffio", "croniter", "dateutil"
    )
    return SandboxedWorkflowRunner(restrictions=restrictions)


def workers(client: Client, backend: Backend, plan: WorkerPlan) -> list[Worker]:
    """The SDK workers of one fleet worker process (not started)."""
    activities = RunActivities(backend)
    found = [
        Worker(
            client, task_queue=names.CONTROL_QUEUE,
            workflows=[RunWorkflow, PartWorkflow, FireWorkflow],
            activities=[activities.prepare], workflow_runner=_sandbox(),
            disable_eager_activity_execution=True, graceful_shutdown_timeout=SHUTDOWN_GRACE,
        )
    ]  # fmt: skip
    for sub in plan.subscriptions:
        found.append(
            Worker(
                client, task_queue=names.writes_queue(sub),
                activities=[activities.launch, activities.interrupt, activities.tidy],
                max_task_queue_activities_per_second=plan.write_rate,
                graceful_shutdown_timeout=SHUTDOWN_GRACE,
            )
        )  # fmt: skip
        found.append(
            Worker(
                client, task_queue=names.reads_queue(sub), activities=[activities.watch],
                max_concurrent_activities=WATCHES, graceful_shutdown_timeout=SHUTDOWN_GRACE,
            )
        )  # fmt: skip
    return found


async def serve_worker(
    client: Client,
    backend: Backend,
    plan: WorkerPlan,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Poll ``plan``'s queues until cancelled; then stop (shielded: the SDK's shutdown must not
    be cancelled halfway), giving activities in flight ``SHUTDOWN_GRACE`` to end — Temporal
    gives the rest to other workers."""
    stack = AsyncExitStack()
    try:
        for worker in workers(client, backend, plan):
            await stack.enter_async_context(worker)
        log.info("worker.started", queues=plan.queues, write_rate=plan.write_rate)
        if on_ready is not None:
            on_ready()
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(STOP_LIMIT_S):
            await stack.aclose()

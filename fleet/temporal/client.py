"""What a client does with runs on Temporal: submit a confirmed plan as a run workflow, follow
it (progress from the workflow's ``progress`` query, a Ctrl-C forwarded as a signal, the report
as its result), and read runs back (``fleet runs``, ``fleet show``) from the server — the
client keeps nothing: kill it, and the run goes on; ``fleet show`` still has the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
import structlog
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from fleet.errors import FleetError, SpecError, UnknownRun
from fleet.model import JobSpec, Mode, Progress, RunPlan, RunReport
from fleet.ports import RunObserver
from fleet.rollout.control import RunControl
from fleet.spec.portable import PortableJob
from fleet.temporal import names
from fleet.temporal.codec import Json, plan_to_json, report_from_json, run_memo

log = structlog.get_logger("fleet.temporal")

PROGRESS_S = 0.5  # wall seconds between progress queries


@dataclass(frozen=True)
class RunSettings:
    """How the workflow runs: ``time_scale`` (an emulator K times faster than Azure: pauses,
    grace periods and deadlines shrink by K) and ``heartbeat_s`` (how soon an activity of a
    worker that died goes to another worker); ``simulated``: the workers talk to fleet's
    emulator (the report says so)."""

    time_scale: float = 1.0
    heartbeat_s: float = 20.0
    simulated: bool = False

    def to_json(self) -> Json:
        return {
            "time_scale": self.time_scale, "heartbeat_s": self.heartbeat_s,
            "simulated": self.simulated,
        }  # fmt: skip


@dataclass(frozen=True)
class RunRow:
    """A run as ``fleet runs`` lists it."""

    run_id: str
    job: str
    started_at: datetime
    ended_at: datetime | None
    status: str  # the workflow's: running, completed, failed, terminated, ...
    ended: str | None  # how the rollout ended (completed, halted-by-..., canceled)
    targets: int | None
    summary: dict[str, int]

    def to_json(self) -> Json:
        duration = None
        if self.ended_at is not None:
            duration = (self.ended_at - self.started_at).total_seconds()
        return {
            "run_id": self.run_id, "job": self.job, "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "duration_s": duration, "ended": self.ended or self.status, "targets": self.targets,
            "summary": dict(self.summary), "who": None, "resumes": 0,
            "workflow_status": self.status,
        }  # fmt: skip


def check_supported(spec: JobSpec) -> None:
    """``SpecError`` (exit code 2, nothing sent) for what a run on Temporal cannot do yet: a
    reboot after the script (``rollout.reboot``; the workers' watch does not restart VMs) and
    full outputs through append blobs (``output:``; the workers keep 4 KB tails), the action
    run command (``mode: action``; the launch would have to pass its operation to the watch)."""
    missing = []
    if spec.rollout.reboot.enabled:
        missing.append("reboots after the script (rollout.reboot / --reboot)")
    if spec.output is not None:
        missing.append("output storage (output: / --output-container)")
    if spec.mode is not Mode.MANAGED:
        missing.append(f"the {spec.mode.value} run command (mode:)")
    if missing:
        message = (
            f"job {spec.name}: {' and '.join(missing)} not supported on Temporal yet; run this "
            "job without --temporal."
        )
        raise SpecError(message)


async def submit(
    client: Client, plan: RunPlan, job: PortableJob, settings: RunSettings
) -> WorkflowHandle[Any, Any]:
    """Start ``plan`` as a run workflow (its id names the run: a run id is never reused)."""
    check_supported(plan.spec)
    payload = {"job": job.to_json(), "plan": plan_to_json(plan), "settings": settings.to_json()}
    return await client.start_workflow(
        names.RUN_WORKFLOW, payload, id=names.run_workflow_id(plan.run_id),
        task_queue=names.CONTROL_QUEUE, memo=run_memo(plan),
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        task_timeout=names.WORKFLOW_TASK_TIMEOUT,
    )  # fmt: skip


async def stop_policy(handle: WorkflowHandle[Any, Any]) -> tuple[bool, int]:
    """The run's ``cancel_running`` and ``cancel_grace_s`` (what a Ctrl-C will do)."""
    memo = await (await handle.describe()).memo()
    return bool(memo.get("cancel_running")), int(memo.get("cancel_grace_s") or 0)


def progress_from_json(raw: Json) -> Progress | None:
    if "total" not in raw:
        return None
    return Progress(
        total=raw["total"], skipped=raw["skipped"], launched=raw["launched"],
        running=raw["running"], succeeded=raw["succeeded"], failed=raw["failed"],
        throttled=raw["throttled"], throttle_wait_s=raw["throttle_wait_s"],
        elapsed_s=raw["elapsed_s"],
    )  # fmt: skip


async def follow(
    handle: WorkflowHandle[Any, Any],
    *,
    observer: RunObserver | None = None,
    control: RunControl | None = None,
) -> RunReport:
    """Wait for the run's report, telling ``observer`` its progress meanwhile (queries cost the
    worker holding the workflow a little: none without an observer); each step of ``control``
    (a Ctrl-C) is sent to the workflow as an ``interrupt`` signal."""
    send, receive = anyio.create_memory_object_stream[str](16)
    if control is not None:
        control.subscribe(lambda _c: send.send_nowait("interrupt"))
    async with anyio.create_task_group() as tg:
        if observer is not None:
            tg.start_soon(_progress, handle, observer)
        tg.start_soon(_signals, handle, receive)
        try:
            raw = await handle.result()
        except WorkflowFailureError as exc:
            cause = exc.cause or exc
            message = f"run workflow {handle.id} failed: {cause}"
            raise FleetError(message) from None
        tg.cancel_scope.cancel()
    report = report_from_json(raw)
    progress = None if observer is None else await _query(handle)
    if observer is not None and progress is not None:
        observer.progress(progress)
    return report


async def _progress(handle: WorkflowHandle[Any, Any], observer: RunObserver) -> None:
    while True:
        progress = await _query(handle)
        if progress is not None:
            observer.progress(progress)
        await anyio.sleep(PROGRESS_S)


async def _query(handle: WorkflowHandle[Any, Any]) -> Progress | None:
    """The run's progress, or None while no worker answers (the run goes on regardless)."""
    try:
        raw = await handle.query("progress")
    except Exception as exc:  # no worker right now, or the workflow is closing
        log.debug("progress.unavailable", reason=str(exc))
        return None
    return progress_from_json(raw)


async def _signals(
    handle: WorkflowHandle[Any, Any], receive: anyio.abc.ObjectReceiveStream[str]
) -> None:
    async with receive:
        async for name in receive:
            await handle.signal(name)


async def run_handle(client: Client, run_id: str) -> WorkflowHandle[Any, Any]:
    """The workflow of run ``run_id``; ``UnknownRun`` (exit code 2) if there is none."""
    handle = client.get_workflow_handle(names.run_workflow_id(run_id))
    try:
        await handle.describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            message = f"no run {run_id} on Temporal (namespace {client.namespace})"
            raise UnknownRun(message) from None
        raise
    return handle


async def is_running(handle: WorkflowHandle[Any, Any]) -> bool:
    return (await handle.describe()).status is WorkflowExecutionStatus.RUNNING


async def finished_report(client: Client, run_id: str) -> RunReport:
    """A finished run's report (``SpecError`` while it is still running)."""
    handle = await run_handle(client, run_id)
    description = await handle.describe()
    if description.status is WorkflowExecutionStatus.RUNNING:
        message = (
            f"run {run_id} is still running on Temporal: `fleet resume {run_id} --temporal ...` "
            "follows it to its report."
        )
        raise SpecError(message)
    if description.status is not WorkflowExecutionStatus.COMPLETED:
        status = description.status.name.lower() if description.status else "unknown"
        raise FleetError(f"run {run_id} has no report: its workflow ended {status}")
    return report_from_json(await handle.result())


async def runs(client: Client, limit: int = 50, job: str | None = None) -> list[RunRow]:
    """The runs Temporal knows, newest first."""
    rows: list[RunRow] = []
    query = f"WorkflowType = '{names.RUN_WORKFLOW}'"
    async for execution in client.list_workflows(query, limit=limit if job is None else None):
        memo = await execution.memo()
        row = _row(execution, memo)
        if row is not None and (job is None or row.job == job):
            rows.append(row)
        if len(rows) >= limit:
            break
    rows.sort(key=lambda r: r.started_at, reverse=True)
    return rows


def _row(execution: Any, memo: Mapping[str, Any]) -> RunRow | None:
    run_id = names.run_id_of(execution.id)
    if run_id is None:
        return None
    status = execution.status.name.lower() if execution.status else "unknown"
    return RunRow(
        run_id=run_id, job=str(memo.get("job", "?")), started_at=execution.start_time,
        ended_at=execution.close_time, status=status, ended=memo.get("ended"),
        targets=memo.get("targets"), summary=dict(memo.get("summary") or {}),
    )  # fmt: skip

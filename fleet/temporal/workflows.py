"""fleet's workflows (run in the SDK's sandbox: deterministic, no I/O).

``RunWorkflow`` (``fleet-run``, id ``fleet-run-<run id>``) drives one run's rollout
(``fleet.temporal.rollout``) with activities on the workers (``ActivityWork``); its input is
the job (``PortableJob``, for the workers) and the plan the operator confirmed (or none: a fire
of a schedule, whose ``FireWorkflow`` prepared it). Its result is the report; ``progress`` (a
query) says how far it is; the signals ``interrupt`` (a Ctrl-C: stop launching, then cancel)
and ``cancel`` stop it from outside. Its memo holds the job and, once it ended, how.

A run workflow does not call the activities itself: each pass (a batch, or a gate after one)
hands each subscription's targets to a ``PartWorkflow`` (``fleet-part``, a child workflow), which
launches and watches them and returns their final results. The run keeps the decisions (batches,
error budget, gates, deadline, cancel: ``Rollout`` with ``ChildParts``) and forwards its control
to the parts running (signal ``control``); a part stops launching by itself once it spent what
was left of the error budget when it started. Why: Temporal fails a workflow task when more than
``history.maximumBufferedEventsBatch`` (100) events buffer up while it runs, and the retry
replays the whole history (temporalio/temporal#4296, "force-flush and restart WFTs"); a
workflow's history is capped at 51,200 events and 2,000 pending activities or children
(docs.temporal.io/workflow-execution/limits); child workflows are Temporal's way to partition
a large workload, each with an Event History of its own (docs.temporal.io/evaluate/features/
child-workflows, "Partition a large workload"). A run's own history then holds a few events per
subscription and pass, whatever the number of targets.

``FireWorkflow`` (``fleet-fire``) is what a Temporal Schedule starts for a job: a blackout
window or a fresh plan (``prepare``, on a worker), then the run as a child workflow, waited for
— so a fire while the job's previous run is still in flight is skipped by the schedule's
overlap policy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from fleet.model import ArmCounters, Batch, RolloutPlan, RunPlan, Target, TargetResult
    from fleet.rollout.budget import ErrorBudget
    from fleet.rollout.control import Ended, RunControl, Stage
    from fleet.schedule import FireOutcome
    from fleet.temporal import names
    from fleet.temporal.codec import (
        Json,
        arm_from_json,
        arm_to_json,
        plan_from_json,
        plan_to_json,
        report_to_json,
        results_from_json,
        results_to_json,
        run_memo,
        scripts_from_json,
    )
    from fleet.temporal.rollout import Rollout, Unit
    from fleet.temporal.work import ActivityWork, Call

RETRIES = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30), maximum_attempts=10,
)  # fmt: skip


def _executor(heartbeat_s: float) -> Call:
    """Activities through Temporal: retried (a retried launch asks Azure first), and handed
    to another worker when this one stops heartbeating for ``heartbeat_s``."""
    heartbeat = timedelta(seconds=heartbeat_s)

    async def call(name: str, queue: str, payload: Json, limit_s: float) -> Json:
        answer: Json = await workflow.execute_activity(
            name, payload, task_queue=queue, start_to_close_timeout=timedelta(seconds=limit_s),
            heartbeat_timeout=heartbeat, retry_policy=RETRIES,
        )  # fmt: skip
        return answer

    return call


def control_to_json(control: RunControl) -> Json:
    return {
        "stage": control.stage.value, "bounded": control.bounded,
        "ended": control.ended.value, "detail": control.detail,
    }  # fmt: skip


def follow_control(control: RunControl, raw: Json) -> None:
    """``control`` takes the run's stage ``raw`` (``control_to_json``): a part stops, halts or
    cancels as the run did."""
    stage, ended, detail = Stage(raw["stage"]), Ended(raw["ended"]), raw.get("detail")
    if stage is Stage.RUNNING:
        return
    if stage is Stage.DRAINING and not raw["bounded"]:
        control.halt(ended, detail or ended.value)
    else:
        control.stop(ended, detail)
    if stage is Stage.CANCELING:
        control.cancel()


def part_plan(plan: RunPlan, targets: Sequence[Target]) -> RunPlan:
    """What a part is given of the run's plan: its targets, as one batch."""
    batch = Batch(1, None, tuple(targets))
    return replace(
        plan, selected=tuple(targets), skipped=(), sentinels=(),
        rollout=RolloutPlan(plan.rollout.order, (batch,)),
    )  # fmt: skip


PART_PROGRESS_S = 5.0
PART_COUNTS = ("launched", "running", "succeeded", "failed")


class ChildParts:
    """``fleet.temporal.rollout.Parts`` as child workflows on the control queue."""

    def __init__(self, payload: Json, plan: RunPlan, control: RunControl) -> None:
        self.payload, self.plan, self.control = payload, plan, control
        self.number = 0
        self.running: dict[str, Any] = {}  # child workflow id -> handle
        self.progress: dict[str, Json] = {}  # child workflow id -> its last counts
        self.subscriptions = len({t.subscription.lower() for t in plan.selected})
        self._signals: list[asyncio.Future[Any]] = []

    async def run(
        self, unit: Unit, targets: Sequence[Target], limit: int, spend: int | None
    ) -> tuple[list[TargetResult], ArmCounters, set[str]]:
        self.number += 1
        child_id = names.part_workflow_id(self.plan.run_id, self.number, targets[0].subscription)
        sent = control_to_json(self.control)
        payload = {
            "job": self.payload["job"], "settings": self.payload.get("settings") or {},
            "plan": plan_to_json(part_plan(self.plan, targets)), "unit": unit.to_json(),
            "limit": limit, "spend": spend, "control": sent, "progress_s": self.progress_s(unit),
        }  # fmt: skip
        handle = await workflow.start_child_workflow(
            names.PART_WORKFLOW, payload, id=child_id, task_queue=names.CONTROL_QUEUE,
            task_timeout=names.WORKFLOW_TASK_TIMEOUT,
        )  # fmt: skip
        self.running[child_id] = handle
        try:
            if control_to_json(self.control) != sent:  # changed while the child started
                await handle.signal("control", control_to_json(self.control))
            answer: Json = await handle
        finally:
            del self.running[child_id]
            self.progress.pop(child_id, None)
        results = results_from_json(answer["results"])
        return results, arm_from_json(answer["arm"]), set(answer["launched"])

    def progress_s(self, unit: Unit) -> float | None:
        """How often a part of the job tells the run its progress (a gate's: never): every
        5 s, less often the more subscriptions the run has — at most one such signal every
        two seconds reaches the run, so they add at most ~1,800 events an hour to its history
        (Temporal's limit is 51,200)."""
        if unit.gate is not None:
            return None
        return max(PART_PROGRESS_S, 2.0 * self.subscriptions)

    def add(self, totals: dict[str, int]) -> dict[str, int]:
        """``totals`` (the run's own counts) with the parts' in flight."""
        summed = dict(totals)
        for counts in self.progress.values():
            for key in PART_COUNTS:
                summed[key] = summed.get(key, 0) + int(counts.get(key, 0))
        return summed

    def tell(self, control: RunControl) -> None:
        state = control_to_json(control)
        for handle in self.running.values():
            self._signals.append(asyncio.ensure_future(_signal(handle, "control", state)))


async def _signal(handle: Any, name: str, state: Json) -> None:
    """Signal another workflow of the run: the run's control to a part (one that ended
    meanwhile needs it no more), or a part's progress to the run (a nicety)."""
    with contextlib.suppress(Exception):
        await handle.signal(name, state)


@workflow.defn(name=names.PART_WORKFLOW)
class PartWorkflow:
    """One pass's targets of one subscription, launched and watched to their final results:
    ``{"results", "arm"}``."""

    @workflow.init
    def __init__(self, payload: Json) -> None:
        self.control = RunControl()

    @workflow.run
    async def run(self, payload: Json) -> Json:
        settings = payload.get("settings") or {}
        plan = plan_from_json(payload["plan"])
        self.control.cancel_running = plan.spec.rollout.cancel_running
        follow_control(self.control, payload["control"])
        work = ActivityWork(_executor(float(settings.get("heartbeat_s", 20))), payload["job"],
                            plan.run_id)  # fmt: skip
        rollout = Rollout(
            plan, work, now=workflow.now, time_scale=float(settings.get("time_scale", 1.0)),
            control=self.control,
        )  # fmt: skip
        spend = payload.get("spend")
        rollout.budget = ErrorBudget(spend, plan.spec.rollout.count_platform_failures)
        unit = Unit.from_json(payload.get("unit"))
        done = asyncio.Event()  # the reporter ends by itself: a signal cancelled is an error
        async with asyncio.TaskGroup() as tg:
            if every := payload.get("progress_s"):
                tg.create_task(_report_progress(rollout, float(every), done))
            results = await rollout.part(unit, list(plan.selected), int(payload["limit"]))
            done.set()
        return {
            "results": results_to_json(results), "arm": arm_to_json(rollout.arm),
            "launched": sorted(rollout.launched()),
        }  # fmt: skip

    @workflow.signal(name="control")
    def follow(self, state: Json) -> None:
        follow_control(self.control, state)


async def _report_progress(rollout: Rollout, every: float, done: asyncio.Event) -> None:
    """Tell the run this part's counts every ``every`` seconds, when they changed, until
    ``done``."""
    info = workflow.info()
    if info.parent is None:
        return
    run = workflow.get_external_workflow_handle(info.parent.workflow_id)
    last: Json = {}
    while not done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), every)
        p = rollout.progress()
        counts = {"launched": p.launched, "running": p.running, "succeeded": p.succeeded,
                  "failed": p.failed}  # fmt: skip
        if counts != last and not done.is_set():
            await _signal(run, "part_progress", {"part": info.workflow_id, **counts})
            last = counts


@workflow.defn(name=names.RUN_WORKFLOW)
class RunWorkflow:
    @workflow.init
    def __init__(self, payload: Json) -> None:
        self.control = RunControl()  # signals may come before the plan is known
        self.rollout: Rollout | None = None
        self.parts: ChildParts | None = None

    @workflow.run
    async def run(self, payload: Json) -> Json:
        settings = payload.get("settings") or {}
        plan = plan_from_json(payload["plan"])
        self.control.cancel_running = plan.spec.rollout.cancel_running
        call = _executor(float(settings.get("heartbeat_s", 20)))
        work = ActivityWork(call, payload["job"], plan.run_id)
        self.parts = ChildParts(payload, plan, self.control)
        self.rollout = Rollout(
            plan, work, now=workflow.now, time_scale=float(settings.get("time_scale", 1.0)),
            control=self.control, script=scripts_from_json(payload["plan"].get("script") or []),
            simulated=bool(settings.get("simulated")),
            parts=self.parts,
        )  # fmt: skip
        report = await self.rollout.run()
        document = report_to_json(report)
        summary = Counter(r.status.value for r in report.results)
        workflow.upsert_memo({"ended": report.ended, "summary": dict(sorted(summary.items()))})
        return document

    @workflow.signal(name="interrupt")
    def interrupt(self) -> None:
        """A Ctrl-C: the first stops launching, the next cancels what is in flight."""
        self.control.interrupt("interrupted by the operator")

    @workflow.signal(name="cancel")
    def cancel(self) -> None:
        self.control.cancel()

    @workflow.signal(name="part_progress")
    def part_progress(self, counts: Json) -> None:
        """A part's counts so far (``_report_progress``), while it runs."""
        if self.parts is not None and counts["part"] in self.parts.running:
            self.parts.progress[counts["part"]] = counts

    @workflow.query(name="progress")
    def progress(self) -> Json:
        if self.rollout is None:
            return {"phase": "starting"}
        p, r = self.rollout.progress(), self.rollout
        counts = {"launched": p.launched, "running": p.running, "succeeded": p.succeeded,
                  "failed": p.failed}  # fmt: skip
        if self.parts is not None:
            counts = self.parts.add(counts)
        return {
            "phase": r.phase.value, "batch": r.batch, "stage": r.control.stage.value,
            "ended": r.control.ended.value, "total": p.total, "skipped": p.skipped,
            **counts, "throttled": p.throttled, "throttle_wait_s": p.throttle_wait_s,
            "elapsed_s": p.elapsed_s,
        }  # fmt: skip


def _nominal() -> str:
    """When this fire was due (the schedule's time, as the server says it; now if it does not)."""
    key = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
    due = workflow.info().typed_search_attributes.get(key) or workflow.now()
    return due.isoformat()


@workflow.defn(name=names.FIRE_WORKFLOW)
class FireWorkflow:
    """One fire of a job's schedule: ``{"outcome": "launched", "run_id", "ended"}`` or
    ``{"outcome": "skipped-blackout", "detail"}``."""

    @workflow.run
    async def run(self, payload: Json) -> Json:
        job, settings = payload["job"], payload.get("settings") or {}
        stamp = workflow.now().strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{workflow.uuid4().hex[:6]}"
        answer: Json = await workflow.execute_activity(
            names.PREPARE, {"job": job, "run_id": run_id}, task_queue=names.CONTROL_QUEUE,
            start_to_close_timeout=timedelta(minutes=30), retry_policy=RETRIES,
        )  # fmt: skip
        if "blackout" in answer:
            return {"outcome": FireOutcome.BLACKOUT.value, "detail": answer["blackout"]}
        plan = answer["plan"]
        memo = {**run_memo(plan_from_json(plan)), "scheduled": True, "nominal": _nominal()}
        ended: Json = await workflow.execute_child_workflow(
            names.RUN_WORKFLOW, {"job": job, "plan": plan, "settings": settings},
            id=names.run_workflow_id(run_id), task_queue=names.CONTROL_QUEUE, memo=memo,
            task_timeout=names.WORKFLOW_TASK_TIMEOUT,
        )  # fmt: skip
        return {"outcome": FireOutcome.LAUNCHED.value, "run_id": run_id, "ended": ended["ended"]}

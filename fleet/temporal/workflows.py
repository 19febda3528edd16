"""fleet's workflows (run in the SDK's sandbox: deterministic, no I/O).

``RunWorkflow`` (``fleet-run``, id ``fleet-run-<run id>``) drives one run's rollout
(``fleet.temporal.rollout``) with activities on the workers (``ActivityWork``); its input is
the job (``PortableJob``, for the workers) and the plan the operator confirmed (or none: a fire
of a schedule, whose ``FireWorkflow`` prepared it). Its result is the report; ``progress`` (a
query) says how far it is; the signals ``interrupt`` (a Ctrl-C: stop launching, then cancel)
and ``cancel`` stop it from outside. Its memo holds the job and, once it ended, how.

``FireWorkflow`` (``fleet-fire``) is what a Temporal Schedule starts for a job: a blackout
window or a fresh plan (``prepare``, on a worker), then the run as a child workflow, waited for
— so a fire while the job's previous run is still in flight is skipped by the schedule's
overlap policy.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from fleet.rollout.control import RunControl
    from fleet.schedule import FireOutcome
    from fleet.temporal import names
    from fleet.temporal.codec import (
        Json,
        plan_from_json,
        report_to_json,
        run_memo,
        scripts_from_json,
    )
    from fleet.temporal.rollout import Rollout
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


@workflow.defn(name=names.RUN_WORKFLOW)
class RunWorkflow:
    @workflow.init
    def __init__(self, payload: Json) -> None:
        self.control = RunControl()  # signals may come before the plan is known
        self.rollout: Rollout | None = None

    @workflow.run
    async def run(self, payload: Json) -> Json:
        settings = payload.get("settings") or {}
        plan = plan_from_json(payload["plan"])
        self.control.cancel_running = plan.spec.rollout.cancel_running
        call = _executor(float(settings.get("heartbeat_s", 20)))
        work = ActivityWork(call, payload["job"], plan.run_id)
        self.rollout = Rollout(
            plan, work, now=workflow.now, time_scale=float(settings.get("time_scale", 1.0)),
            control=self.control, script=scripts_from_json(payload["plan"].get("script") or []),
            simulated=bool(settings.get("simulated")),
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

    @workflow.query(name="progress")
    def progress(self) -> Json:
        if self.rollout is None:
            return {"phase": "starting"}
        p, r = self.rollout.progress(), self.rollout
        return {
            "phase": r.phase.value, "batch": r.batch, "stage": r.control.stage.value,
            "ended": r.control.ended.value, "total": p.total, "skipped": p.skipped,
            "launched": p.launched, "running": p.running, "succeeded": p.succeeded,
            "failed": p.failed, "throttled": p.throttled, "throttle_wait_s": p.throttle_wait_s,
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

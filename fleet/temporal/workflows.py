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

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from fleet.engine.execute import Interrupt
    from fleet.model import ArmCounters, Deleted, DeleteReason, Target, TargetResult
    from fleet.rollout.control import RunControl
    from fleet.temporal import names
    from fleet.temporal.codec import (
        Json,
        arm_from_json,
        plan_from_json,
        report_to_json,
        result_from_json,
        result_to_json,
        run_memo,
        target_to_json,
    )
    from fleet.temporal.rollout import InFlight, Launch, Rollout, Unit

WATCH_MAX_S = 600.0  # wall seconds a watch activity runs before it gives back what it has
RETRIES = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30), maximum_attempts=10,
)  # fmt: skip


class ActivityWork:
    """``fleet.temporal.rollout.Work`` as activities on the subscriptions' task queues."""

    def __init__(self, job: Json, run_id: str, heartbeat_s: float) -> None:
        self.job, self.run_id = job, run_id
        self.heartbeat = timedelta(seconds=heartbeat_s)
        self.learned: dict[Unit, Counter[tuple[int | None, int]]] = {}

    def _payload(self, unit: Unit, **more: Any) -> Json:
        return {"job": self.job, "run_id": self.run_id, "unit": unit.to_json(), **more}

    async def _call(self, name: str, queue: str, payload: Json, limit_s: float) -> Json:
        answer: Json = await workflow.execute_activity(
            name, payload, task_queue=queue, start_to_close_timeout=timedelta(seconds=limit_s),
            heartbeat_timeout=self.heartbeat, retry_policy=RETRIES,
        )  # fmt: skip
        return answer

    async def launch(
        self, unit: Unit, targets: Sequence[Target]
    ) -> tuple[list[Launch], ArmCounters]:
        payload = self._payload(unit, targets=[target_to_json(t) for t in targets])
        queue = names.writes_queue(targets[0].subscription)
        answer = await self._call(names.LAUNCH, queue, payload, 3600)
        now = asyncio.get_running_loop().time()
        launches = []
        for target, outcome in zip(targets, answer["outcomes"], strict=True):
            if "result" in outcome:
                launches.append(Launch(target, result=result_from_json(outcome["result"])))
                continue
            sent = outcome["launched"]
            deleted = tuple(Deleted(n, DeleteReason(r), e) for n, r, e in sent["deleted"])
            flight = InFlight(target, now - float(sent["since_s"]), sent["attempts"], deleted)
            launches.append(Launch(target, flight=flight))
        return launches, arm_from_json(answer["arm"])

    def _flights(self, flights: Sequence[InFlight]) -> list[Json]:
        now = asyncio.get_running_loop().time()
        return [
            {"target": target_to_json(f.target), "elapsed_s": max(0.0, now - f.launched_at)}
            for f in flights
        ]

    async def watch(
        self, unit: Unit, flights: Sequence[InFlight], *, until: int, budget: bool
    ) -> tuple[list[TargetResult], ArmCounters]:
        learned = self.learned.setdefault(unit, Counter())
        payload = self._payload(
            unit, targets=self._flights(flights), until=until, budget=budget, max_s=WATCH_MAX_S,
            learned=[[lo, hi, n] for (lo, hi), n in learned.items()],
        )  # fmt: skip
        queue = names.reads_queue(flights[0].target.subscription)
        answer = await self._call(names.WATCH, queue, payload, WATCH_MAX_S + 300)
        learned.update({(lo, hi): n for lo, hi, n in answer["learned"]})
        results = [result_from_json(r) for r in answer["results"]]
        return results, arm_from_json(answer["arm"])

    async def interrupt(
        self, unit: Unit, flights: Sequence[InFlight], action: Interrupt
    ) -> tuple[list[TargetResult], ArmCounters]:
        payload = self._payload(unit, targets=self._flights(flights), action=action.value)
        queue = names.writes_queue(flights[0].target.subscription)
        answer = await self._call(names.INTERRUPT, queue, payload, 900)
        return [result_from_json(r) for r in answer["results"]], arm_from_json(answer["arm"])

    async def tidy(
        self, unit: Unit, results: Sequence[TargetResult]
    ) -> tuple[list[TargetResult], ArmCounters]:
        payload = self._payload(unit, results=[result_to_json(r) for r in results])
        queue = names.writes_queue(results[0].target.subscription)
        answer = await self._call(names.TIDY, queue, payload, 900)
        return [result_from_json(r) for r in answer["results"]], arm_from_json(answer["arm"])


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
        work = ActivityWork(payload["job"], plan.run_id, float(settings.get("heartbeat_s", 20)))
        self.rollout = Rollout(
            plan, work, now=workflow.now, time_scale=float(settings.get("time_scale", 1.0)),
            control=self.control,
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
            return {"outcome": "skipped-blackout", "detail": answer["blackout"]}
        plan = answer["plan"]
        memo = run_memo(plan_from_json(plan))
        ended: Json = await workflow.execute_child_workflow(
            names.RUN_WORKFLOW, {"job": job, "plan": plan, "settings": settings},
            id=names.run_workflow_id(run_id), task_queue=names.CONTROL_QUEUE, memo=memo,
        )  # fmt: skip
        return {"outcome": "launched", "run_id": run_id, "ended": ended["ended"]}

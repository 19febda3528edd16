"""The run workflow's rollout (``fleet.temporal.rollout`` driving the activities' code through
their JSON, in this process, no Temporal) decides what the local engine decides: for the
rollout scenarios of tests/engine/test_rollout_runner.py, on twin in-memory fleets in virtual
time, the same outcome per target, the same ending, the same rollout record (batches, gate
verdicts, error budget) and the same PUTs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import anyio
import pytest

from fleet.api import Backend, prepare, run_async
from fleet.engine.runner import EngineSettings
from fleet.model import (
    Amount,
    ArmCounters,
    Cleanup,
    HealthGate,
    JobSpec,
    Order,
    RunPlan,
    RunReport,
    Target,
    TargetResult,
)
from fleet.rollout.budget import ErrorBudget
from fleet.rollout.control import RunControl
from fleet.temporal import names
from fleet.temporal.activities import RunActivities
from fleet.temporal.codec import Json, plan_from_json, plan_to_json
from fleet.temporal.rollout import Rollout, Unit
from fleet.temporal.work import ActivityWork
from fleet.temporal.workflows import control_to_json, follow_control, part_plan
from tests.engine.test_rollout_runner import RecordingArm, fleet, job, script, trouble
from tests.fakes import VIRTUAL_TIME, Behaviour, make_target

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


def _call(activities: RunActivities) -> Callable[..., object]:
    by_name = {
        names.LAUNCH: activities.launch_targets, names.WATCH: activities.watch_targets,
        names.INTERRUPT: activities.interrupt_targets, names.TIDY: activities.tidy_targets,
    }  # fmt: skip

    async def call(name: str, queue: str, payload: Json, limit_s: float) -> Json:
        assert queue.startswith("fleet-writes-" if name != names.WATCH else "fleet-reads-")
        return await by_name[name](payload)

    return call


async def _interrupts(control: RunControl, delays: Sequence[float]) -> None:
    for delay in delays:
        await anyio.sleep(delay)
        control.interrupt()


async def on_engine(arm: RecordingArm, spec: JobSpec, delays: Sequence[float]) -> RunReport:
    backend = Backend(arm, arm)
    plan = await prepare(spec, backend, run_id="run-1")
    control = RunControl(cancel_running=spec.rollout.cancel_running)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_interrupts, control, delays)
        report = await run_async(plan, backend, settings=EngineSettings(), control=control)
        tg.cancel_scope.cancel()
    return report


class InProcessParts:
    """``Parts`` as the run workflow's children do it (``PartWorkflow``), in this process: a
    ``Rollout.part`` on the part's plan, with the run's control passed on and what is left of
    its error budget."""

    def __init__(self, plan: RunPlan, work: ActivityWork, control: RunControl) -> None:
        self.plan, self.work, self.control = plan, work, control
        self.running: list[RunControl] = []
        self.started = 0

    async def run(
        self, unit: Unit, targets: Sequence[Target], limit: int, spend: int | None
    ) -> tuple[list[TargetResult], ArmCounters, set[str]]:
        self.started += 1
        plan = plan_from_json(plan_to_json(part_plan(self.plan, targets)))
        control = RunControl(cancel_running=plan.spec.rollout.cancel_running)
        follow_control(control, control_to_json(self.control))
        rollout = Rollout(plan, self.work, now=lambda: datetime.now(UTC), control=control)
        rollout.budget = ErrorBudget(spend, plan.spec.rollout.count_platform_failures)
        self.running.append(control)
        try:
            results = await rollout.part(unit, list(plan.selected), limit)
        finally:
            self.running.remove(control)
        return results, rollout.arm, rollout.launched()

    def tell(self, control: RunControl) -> None:
        for part in self.running:
            follow_control(part, control_to_json(control))


async def on_workflow_rollout(
    arm: RecordingArm, spec: JobSpec, delays: Sequence[float], *, in_parts: bool = False
) -> RunReport:
    backend = Backend(arm, arm)
    plan = await prepare(spec, backend, run_id="run-1")
    plan = plan_from_json(plan_to_json(plan))  # what the workflow is given
    activities = RunActivities(backend, job_spec=lambda _job: spec)
    work = ActivityWork(_call(activities), {"name": spec.name}, plan.run_id)  # type: ignore[arg-type]
    control = RunControl(cancel_running=spec.rollout.cancel_running)
    parts = InProcessParts(plan, work, control) if in_parts else None
    rollout = Rollout(plan, work, now=lambda: datetime.now(UTC), control=control, parts=parts)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_interrupts, control, delays)
        report = await rollout.run()
        tg.cancel_scope.cancel()
    if parts is not None:
        assert parts.started >= len(plan.rollout.batches if report.ended == "completed" else [1])
    return report


def failing_in_batch_2() -> RecordingArm:
    arm = fleet(10)
    arm.behaviour["vm-03"].exit_code = 1
    return arm


def with_sentinel(output: str) -> Callable[[], RecordingArm]:
    def make() -> RecordingArm:
        arm = fleet(5)
        arm.add(make_target("probe-1"), Behaviour(output=output))
        return arm

    return make


GATED = {"batches": (Amount(count=1), Amount(count=3), Amount(percent=100)), "order": Order.NAME}
SMOKE = HealthGate("smoke", script("curl -f localhost"))
PROBE = HealthGate("probe", script("check"), expect_output="status: OK", sentinels=("probe-*",))
STRICT = job(concurrency=1, max_errors=Amount(count=0), order=Order.NAME)

SCENARIOS: dict[str, tuple[Callable[[], RecordingArm], JobSpec, tuple[float, ...]]] = {
    "batches": (
        lambda: fleet(12, duration=20),
        job(batches=(Amount(count=1), Amount(percent=25)), order=Order.NAME),
        (),
    ),
    "error-budget-serial": (
        lambda: fleet(20, exit_code=1),
        job(concurrency=1, max_errors=Amount(count=2)),
        (),
    ),
    "platform-failures-apart": (trouble, STRICT, ()),
    "platform-failures-counted": (
        trouble,
        dataclasses.replace(
            STRICT, rollout=dataclasses.replace(STRICT.rollout, count_platform_failures=True)
        ),
        (),
    ),
    "gate-fails": (failing_in_batch_2, job(gates=(SMOKE,), **GATED), ()),
    "sentinel-gate-passes": (with_sentinel("status: OK\n"), job(gates=(PROBE,), **GATED), ()),
    "sentinel-gate-fails": (with_sentinel("degraded\n"), job(gates=(PROBE,), **GATED), ()),
    "soak": (
        lambda: fleet(3, duration=10),
        job(batches=(Amount(count=1),), order=Order.NAME, pause_s=300),
        (),
    ),
    "deadline": (
        lambda: fleet(10, duration=100, pickup=0),
        job(concurrency=2, deadline_s=250, order=Order.NAME),
        (),
    ),
    "stop": (
        lambda: fleet(10, duration=100, pickup=0),
        job(concurrency=3, order=Order.NAME),
        (50,),
    ),
    "grace-expires": (
        lambda: fleet(4, wedged=True),
        job(concurrency=2, order=Order.NAME, cancel_grace_s=30),
        (50,),
    ),
    "cancel": (
        lambda: fleet(6, duration=1000, pickup=0),
        job(concurrency=2, order=Order.NAME),
        (50, 10),
    ),
    "cancel-running": (
        lambda: fleet(6, duration=1000, pickup=0),
        job(concurrency=3, cancel_running=True, order=Order.NAME),
        (50,),
    ),
    "cleanup": (failing_in_batch_2, job(cleanup=Cleanup.DELETE_ON_SUCCESS, order=Order.NAME), ()),
}


def decided(report: RunReport) -> dict[str, object]:
    """What a rollout decided (not when: virtual times and poll counts may differ)."""
    record = report.rollout
    assert record is not None
    return {
        "ended": report.ended,
        "detail": report.ended_detail,
        "targets": [
            (r.target.name, r.status.value, r.exit_code, r.reason, r.attempts,
             [(d.run_command, d.reason.value, d.error) for d in r.deleted])
            for r in report.results
        ],
        "batches": [(b.index, b.target_ids, b.started) for b in record.batches],
        "gates": [(g.gate, g.batch, g.passed, g.reason, g.target_ids) for g in record.gates],
        "budget": (record.max_errors, record.script_failures, record.platform_failures),
    }  # fmt: skip


@pytest.mark.parametrize("in_parts", [False, True], ids=["rollout", "in-parts"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_the_workflow_rollout_decides_what_the_engine_decides(
    scenario: str, in_parts: bool
) -> None:
    """``in-parts``: as a run workflow does it, each pass handed to a part per subscription
    (one subscription here: one part per pass, with the whole concurrency and budget)."""
    make, spec, interrupts = SCENARIOS[scenario]
    engine_arm, workflow_arm = make(), make()
    engine = await on_engine(engine_arm, spec, interrupts)
    workflow = await on_workflow_rollout(workflow_arm, spec, interrupts, in_parts=in_parts)
    assert decided(workflow) == decided(engine)
    assert {n: [(i.run_command, i.run_id) for i in p] for n, p in workflow_arm.puts.items()} == {
        n: [(i.run_command, i.run_id) for i in p] for n, p in engine_arm.puts.items()
    }
    assert sorted(workflow_arm.deletes) == sorted(engine_arm.deletes)

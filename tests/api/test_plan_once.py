"""One plan per run: ``prepare`` decides everything (targets, skips, batches, sentinels, run id)
before anything is sent, the plan the confirmation saw is the object that runs, a plan runs as
given (never re-planned), and a sentinel error comes before the operator is asked anything."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from rich.console import Console

from fleet import api
from fleet.cli import launch as launch_module
from fleet.errors import SpecError
from fleet.model import (
    Amount,
    Batch,
    HealthGate,
    JobSpec,
    Order,
    RolloutPlan,
    RolloutPolicy,
    RunPlan,
    ScriptSource,
    ScriptSpec,
    Selector,
    SourceKind,
    Status,
)
from fleet.ports import Backend
from tests.fakes import Behaviour, FakeArm, RecordingObserver, make_target

pytestmark = pytest.mark.anyio


def job(**rollout: Any) -> JobSpec:
    script = ScriptSpec(ScriptSource(SourceKind.INLINE, "echo ok"), timeout_s=60)
    return JobSpec("patch", Selector(names=("vm-*",)), script, rollout=RolloutPolicy(**rollout))


def fleet(count: int = 12) -> tuple[FakeArm, Backend]:
    arm = FakeArm()
    for i in range(count):
        arm.add(make_target(f"vm-{i:02}"), Behaviour(duration=2))
    arm.add(make_target("vm-off", power_state="deallocated"))
    return arm, Backend(arm, arm)


async def test_prepare_decides_targets_skips_batches_and_the_run_id() -> None:
    _arm, backend = fleet()
    spec = job(batches=(Amount(count=1), Amount(percent=50)), order=Order.NAME)
    plan = await api.prepare(spec, backend, run_id="run-7")
    assert plan.run_id == "run-7" and plan.spec is spec
    assert len(plan.selected) == 13 and [r.target.name for r in plan.skipped] == ["vm-off"]
    assert [len(b.targets) for b in plan.rollout.batches] == [1, 6, 5]
    assert plan.targets == [t for b in plan.rollout.batches for t in b.targets]


async def test_a_plan_runs_as_given_and_is_never_planned_again() -> None:
    _arm, backend = fleet(6)
    spec = job(order=Order.NAME)
    prepared = await api.prepare(spec, backend, run_id="run-1")
    mine = tuple(reversed(prepared.targets))  # not what plan_rollout would cut
    batches = (Batch(1, "mine", mine[:2]), Batch(2, "mine", mine[2:]))
    plan = dataclasses.replace(prepared, rollout=RolloutPlan(Order.NAME, batches))
    observer = RecordingObserver()
    report = await api.run_async(plan, backend, observer=observer)
    assert report.run_id == "run-1"
    assert report.rollout is not None
    ran = [b.target_ids for b in report.rollout.batches]
    assert ran == [tuple(t.id for t in b.targets) for b in batches]
    assert [event for event in observer.events if event[0] == "run_started"] == [
        ("run_started", plan)
    ]
    assert observer.events[0][1] is plan


async def test_the_plan_the_confirmation_saw_is_the_plan_that_ran(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _arm, backend = fleet(12)  # above confirm_over (10): the operator is asked
    confirmed: list[RunPlan] = []
    ran: list[RunPlan] = []
    real_confirm, real_run = launch_module.confirm_run, launch_module.run_async

    def confirm_spy(console: Console, plan: RunPlan, **kw: Any) -> None:
        confirmed.append(plan)
        real_confirm(console, plan, **kw)

    async def run_spy(plan: RunPlan, backend: Backend, **kw: Any) -> Any:
        ran.append(plan)
        return await real_run(plan, backend, **kw)

    monkeypatch.setattr(launch_module, "confirm_run", confirm_spy)
    monkeypatch.setattr(launch_module, "run_async", run_spy)
    asked: list[str] = []
    plan = await api.prepare(job(batches=(Amount(count=2), Amount(percent=100))), backend)
    report = await launch_module.launch(
        plan, backend, journal=None, recipe=None, yes=False,
        ask=lambda prompt: asked.append(prompt) or "y",
    )  # fmt: skip
    assert asked and confirmed and ran
    assert confirmed[0] is plan and ran[0] is plan
    assert report.run_id == plan.run_id
    assert report.rollout is not None
    assert [b.target_ids for b in report.rollout.batches] == [
        tuple(t.id for t in b.targets) for b in plan.rollout.batches
    ]


async def test_sentinel_errors_come_before_the_prompt() -> None:
    _arm, backend = fleet(12)
    script = ScriptSpec(ScriptSource(SourceKind.INLINE, "check"))
    gate = HealthGate("probe", script, sentinels=("probe-*",))  # matches no VM
    with pytest.raises(SpecError, match="sentinels probe-\\* match no VM"):
        await api.prepare(job(gates=(gate,)), backend)  # before launch() could ask


async def test_observer_hears_every_event_in_order() -> None:
    arm, backend = fleet(4)
    arm.behaviour["vm-03"].exit_code = 1
    gate = HealthGate("smoke", ScriptSpec(ScriptSource(SourceKind.INLINE, "true")))
    spec = job(batches=(Amount(count=1), Amount(percent=100)), order=Order.NAME, gates=(gate,))
    observer = RecordingObserver()
    report = await api.run_async(spec, backend, observer=observer)
    names = observer.names()
    assert names[0] == "run_started" and names[-1] == "run_finished"
    assert observer.events[-1][1] is report
    assert names[1] == "target_finished"  # the skipped vm-off, final before any batch
    first, second = names.index("batch_started"), names.index("batch_finished")
    assert names[first + 1 : second] == ["target_finished"]  # the canary
    assert names[second + 1] == "gate_finished"
    finished = [p for n, p in observer.events if n == "target_finished"]
    assert len(finished) == 5 and {r.status for r in finished} >= {Status.FAILED, Status.SKIPPED}
    assert observer.progress_seen and observer.progress_seen[-1].done == 5

"""Resuming a crashed run never sends a PUT twice, on the in-memory fake where an identical PUT
re-runs the script (the pessimistic reading of MicrosoftDocs/azure-compute-docs PR #178), in
virtual time: the "did it arrive?" read decides, and its finding is recorded; a batch that
finished before the crash has its gates checked again, asking Azure before sending them.

The world before the crash is built on the fake directly (the PUTs that reached Azure), and
the resumed process is the engine's ``Runner`` given what the journal would say (``done``,
``reattach``)."""

from __future__ import annotations

from collections import Counter

import pytest

from fleet.api import Backend, prepare
from fleet.engine.execute import NEVER_ARRIVED
from fleet.engine.invocation import invocation_for
from fleet.engine.runner import EngineSettings, Runner
from fleet.model import (
    Amount,
    Concurrency,
    HealthGate,
    JobSpec,
    Order,
    RolloutPolicy,
    RunPlan,
    ScriptSource,
    ScriptSpec,
    Selector,
    SourceKind,
    Status,
    Target,
    TargetResult,
)
from tests.engine.kit import MemoryRecorder
from tests.fakes import VIRTUAL_TIME, Behaviour, FakeArm, make_target

pytestmark = pytest.mark.anyio
RUN = "run-1"


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


def script(text: str) -> ScriptSpec:
    return ScriptSpec(ScriptSource(SourceKind.INLINE, text), timeout_s=600)


def job(**rollout: object) -> JobSpec:
    return JobSpec(
        "patch", Selector(), script("patch"), Concurrency(), rollout=RolloutPolicy(**rollout)
    )


async def plan_for(arm: FakeArm, spec: JobSpec) -> RunPlan:
    return await prepare(spec, Backend(arm, arm), run_id=RUN)


async def sent_before_the_crash(arm: FakeArm, spec: JobSpec, name: str, run_id: str = RUN) -> None:
    """A PUT the crashed process sent and Azure applied (its answer died with the process)."""
    target = arm.targets[name]
    invocation = invocation_for(spec, target, run_id)
    assert invocation is not None
    assert await arm.put(target, invocation) is None


def executed(arm: FakeArm) -> Counter[str]:
    return Counter({name: arm.executions[name] for name in arm.targets})


async def test_an_announced_put_is_sent_again_only_when_azure_proves_it_never_arrived() -> None:
    arm = FakeArm(identical_put_reruns=True)
    for name in ("arrived", "lost", "running"):
        arm.add(make_target(name), Behaviour(duration=30))
    spec = job()
    await sent_before_the_crash(arm, spec, "arrived")
    await sent_before_the_crash(arm, spec, "running")
    journal = MemoryRecorder()
    runner = Runner(await plan_for(arm, spec), arm, settings=EngineSettings(), recorder=journal)
    ids = {name: arm.targets[name].id.lower() for name in arm.targets}
    # "arrived" and "lost": intent journaled, no answer; "running": the PUT was accepted.
    results = await runner.run(reattach={ids["arrived"]: True, ids["lost"]: True,
                                         ids["running"]: False})  # fmt: skip
    assert {r.target.name: r.status for r in results} == dict.fromkeys(
        arm.targets, Status.SUCCEEDED
    )
    assert {name: len(puts) for name, puts in arm.puts.items()} == dict.fromkeys(arm.targets, 1)
    assert executed(arm) == Counter(dict.fromkeys(arm.targets, 1))
    assert journal.steps("arrived") == ["accepted"]  # found on the VM with this run's id
    assert journal.steps("running") == []  # re-attached: nothing to decide
    assert journal.steps("lost") == ["put_failed", "intent", "accepted"]  # proven absent, then sent
    (finding,) = journal.failures("lost")
    assert finding == (NEVER_ARRIVED, False)


async def test_an_earlier_runs_command_on_the_vm_is_not_taken_for_this_runs_put() -> None:
    arm = FakeArm(identical_put_reruns=True)
    arm.add(make_target("vm"), Behaviour(duration=30))
    spec = job()
    await sent_before_the_crash(arm, spec, "vm", run_id="run-0")  # yesterday's run of the job
    journal = MemoryRecorder()
    runner = Runner(await plan_for(arm, spec), arm, settings=EngineSettings(), recorder=journal)
    (result,) = await runner.run(reattach={arm.targets["vm"].id.lower(): True})
    assert result.status is Status.SUCCEEDED
    assert [inv.run_id for inv in arm.puts["vm"]] == ["run-0", RUN]
    assert arm.executions["vm"] == 2  # once per run
    assert journal.steps("vm") == ["put_failed", "intent", "accepted"]


def gated_job() -> JobSpec:
    gate = HealthGate("smoke", script("check"))
    return job(batches=(Amount(count=1), Amount(count=2)), order=Order.NAME, gates=(gate,))


def done(target: Target) -> TargetResult:
    return TargetResult(target, Status.SUCCEEDED, exit_code=0, execution_state="Succeeded")


def gate_puts(arm: FakeArm) -> dict[str, list[str]]:
    return {
        name: [inv.run_id for inv in puts if "-gate-" in inv.run_command]
        for name, puts in arm.puts.items()
    }


@pytest.mark.parametrize("gate_sent", [True, False], ids=["gate-sent", "gate-not-sent"])
async def test_a_crash_between_batches_checks_the_gate_again_sending_it_at_most_once(
    gate_sent: bool,
) -> None:
    arm = FakeArm(identical_put_reruns=True)
    for i in range(3):
        arm.add(make_target(f"vm-{i}"), Behaviour(duration=30))
    spec = gated_job()
    await sent_before_the_crash(arm, spec, "vm-0")  # batch 1 ran and finished
    if gate_sent:  # the crash came while its gate ran
        gate = spec.rollout.gates[0]
        gate_spec = JobSpec("patch-gate-smoke", Selector(), gate.script, Concurrency())
        await sent_before_the_crash(arm, gate_spec, "vm-0", run_id=f"{RUN}-b1")
    runner = Runner(await plan_for(arm, spec), arm, settings=EngineSettings())
    results = await runner.run(done=[done(arm.targets["vm-0"])])
    assert [r.status for r in results] == [Status.SUCCEEDED] * 3
    assert [(g.batch, g.passed) for g in runner.gate_records] == [(1, True)]  # not bypassed
    assert gate_puts(arm) == {"vm-0": [f"{RUN}-b1"], "vm-1": [], "vm-2": []}
    assert arm.executions["vm-0"] == 2  # the job's script once and the gate's once


async def test_a_crash_after_the_next_batch_started_does_not_check_the_gate_again() -> None:
    arm = FakeArm(identical_put_reruns=True)
    for i in range(3):
        arm.add(make_target(f"vm-{i}"), Behaviour(duration=30))
    spec = gated_job()
    await sent_before_the_crash(arm, spec, "vm-0")
    await sent_before_the_crash(arm, spec, "vm-1")  # batch 2 started: the gate had passed
    runner = Runner(await plan_for(arm, spec), arm, settings=EngineSettings())
    vm1 = arm.targets["vm-1"].id.lower()
    results = await runner.run(done=[done(arm.targets["vm-0"])], reattach={vm1: False})
    assert [r.status for r in results] == [Status.SUCCEEDED] * 3
    assert runner.gate_records == [] and gate_puts(arm) == {"vm-0": [], "vm-1": [], "vm-2": []}
    assert executed(arm) == Counter({"vm-0": 1, "vm-1": 1, "vm-2": 1})

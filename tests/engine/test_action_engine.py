"""The engine driving the action run command (``mode: action``) on an in-memory fake, in
virtual time: a busy VM (Azure's 409, one command at a time) is waited out and sent to once it
is free, or reported when it stays busy past the script's timeout; a POST whose answer was lost
is resolved through the VM's extension status before anything is sent again (never twice,
and never re-sent when Azure cannot tell whose result it shows); a resumed run reads the
journaled operation instead of posting; a cancel cannot stop an action command; the job's
history plans the reads of the operation as it does instance views."""

from __future__ import annotations

import dataclasses

import anyio
import pytest

from fleet.api import Backend, prepare
from fleet.engine.invocation import invocation_for
from fleet.engine.launch import BusyWait
from fleet.engine.runner import EngineSettings, Runner
from fleet.model import (
    CallError,
    Concurrency,
    Forecast,
    Invocation,
    JobSpec,
    Mode,
    RunPlan,
    RunView,
    ScriptSource,
    ScriptSpec,
    Selector,
    SourceKind,
    Status,
    Target,
    TargetResult,
)
from fleet.rollout.control import RunControl
from tests.engine.fake_action import FakeAction
from tests.engine.kit import MemoryRecorder
from tests.fakes import VIRTUAL_TIME, FakeArm, make_target

pytestmark = pytest.mark.anyio
RUN = "run-1"


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


def job(timeout_s: int = 600) -> JobSpec:
    script = ScriptSpec(ScriptSource(SourceKind.INLINE, "patch"), timeout_s=timeout_s)
    return JobSpec("patch", Selector(), script, Concurrency(), mode=Mode.ACTION)


async def planned(names: list[str], spec: JobSpec) -> tuple[RunPlan, dict[str, Target]]:
    arm = FakeArm()
    for name in names:
        arm.add(make_target(name))
    plan = await prepare(spec, Backend(arm, arm), run_id=RUN)
    return plan, arm.targets


async def run(
    action: FakeAction, plan: RunPlan, journal: MemoryRecorder | None = None, **resume: object
) -> dict[str, TargetResult]:
    runner = Runner(plan, action, settings=EngineSettings(), recorder=journal)
    results = await runner.run(**resume)  # type: ignore[arg-type]
    return {r.target.name: r for r in results}


async def test_a_busy_vm_is_waited_out_and_the_script_sent_once_it_is_free() -> None:
    plan, targets = await planned(["busy", "free"], job())
    action = FakeAction(duration=30)
    action.foreign(targets["busy"], started=0, duration=200)  # another tool's command runs
    journal = MemoryRecorder()
    results = await run(action, plan, journal)
    assert {n: r.status for n, r in results.items()} == dict.fromkeys(targets, Status.SUCCEEDED)
    assert action.executions == {"busy": 1, "free": 1}
    assert results["free"].attempts == 1
    # 15 + 30 + 60 + 120 s of waiting reach past the other command's 200 s: the fifth POST runs
    assert results["busy"].attempts == action.posts["busy"] == 5
    refusals = [d for what, d in journal.entries("busy") if what == "put_failed"]
    assert refusals == [False] * 4  # each refusal proven: nothing ran
    assert journal.entries("busy")[-2][0] == "accepted"


async def test_a_vm_busy_past_the_timeout_is_reported_and_nothing_runs() -> None:
    plan, targets = await planned(["busy"], job(timeout_s=120))
    action = FakeAction()
    action.foreign(targets["busy"], started=0, duration=3600)
    result = (await run(action, plan))["busy"]
    assert result.status is Status.CONFLICT
    assert result.reason is not None
    assert "still running on the VM after fleet waited 120 s" in result.reason
    assert "one at a time per VM" in result.reason
    assert action.executions["busy"] == 0
    assert result.attempts == action.posts["busy"] == 5  # at 0, 15, 45, 105 and 120 s


def test_busy_backoff_doubles_and_stops_at_the_limit() -> None:
    wait = BusyWait(200.0, first_s=15, max_s=60)
    assert [wait.next() for _ in range(6)] == [15, 30, 60, 60, 35, None]
    assert wait.waited_s == 200


async def test_a_lost_post_that_ran_is_found_on_the_extension_and_never_sent_again() -> None:
    plan, _ = await planned(["lost"], job())
    action = FakeAction(duration=300, faults={"lost": ["after"]})  # processed, answer lost
    journal = MemoryRecorder()
    result = (await run(action, plan, journal))["lost"]
    assert result.status is Status.SUCCEEDED
    assert action.posts["lost"] == 1 and action.executions["lost"] == 1
    # the extension said "in progress, whose unknown" until it ended with this run's marker
    assert action.reads["lost"] >= 3
    assert [what for what, _ in journal.entries("lost")] == ["intent", "accepted", "final"]


async def test_a_lost_post_the_agent_has_not_picked_up_yet_is_not_sent_twice() -> None:
    """The extension still shows an earlier run while this POST waits for the agent: that
    read "proves" it never arrived, the next POST is refused busy (it is the busy one), and
    every later POST is preceded by the read — which finds it once it ran."""
    plan, targets = await planned(["slow"], job())
    action = FakeAction(duration=30, pickup=60, faults={"slow": ["after"]})
    action.ran(targets["slow"], "an-earlier-run", started=-1000)
    journal = MemoryRecorder()
    result = (await run(action, plan, journal))["slow"]
    assert result.status is Status.SUCCEEDED
    assert action.executions["slow"] == 2  # the earlier run's, and this run's once
    assert action.posts["slow"] >= 3  # the lost one, then refused while it waited and ran
    whats = [what for what, _ in journal.entries("slow")]
    assert whats[-2:] == ["accepted", "final"] and whats.count("accepted") == 1


async def test_a_post_lost_before_azure_saw_it_is_sent_again_after_proof() -> None:
    plan, targets = await planned(["lost"], job())
    action = FakeAction(faults={"lost": ["before"]})
    action.ran(targets["lost"], "an-earlier-run", started=-1000)  # the extension shows that one
    journal = MemoryRecorder()
    result = (await run(action, plan, journal))["lost"]
    assert result.status is Status.SUCCEEDED and result.attempts == 2
    assert action.executions["lost"] == 2  # the earlier run's, and this run's once
    whats = [what for what, _ in journal.entries("lost")]
    assert whats == ["intent", "put_failed", "intent", "accepted", "final"]


async def test_a_lost_post_is_not_re_sent_when_the_extension_cannot_say_whose_result_it_is() -> (
    None
):
    plan, targets = await planned(["lost"], job())
    action = FakeAction(faults={"lost": ["before"]})
    action.foreign(targets["lost"], started=-1000, duration=10)  # ended without fleet's marker
    result = (await run(action, plan))["lost"]
    assert result.status is Status.ERROR
    assert result.reason is not None and "fate is unknown" in result.reason
    assert action.executions["lost"] == 0 and action.posts["lost"] == 0


async def test_resume_reads_the_journaled_operation_and_posts_nothing() -> None:
    plan, targets = await planned(["running", "announced"], job())
    action = FakeAction(duration=60)
    launched = await action.put(targets["running"], _invocation(plan, targets["running"]))
    action.ran(targets["announced"], RUN)  # its POST arrived; the crash lost the answer
    assert not isinstance(launched, CallError) and launched is not None
    ids = {name: t.id.lower() for name, t in targets.items()}
    results = await run(
        action,
        plan,
        reattach={ids["running"]: False, ids["announced"]: True},
        handles={ids["running"]: launched.handle},
    )
    assert {n: r.status for n, r in results.items()} == dict.fromkeys(targets, Status.SUCCEEDED)
    assert action.posts == {"running": 1}  # the one before the crash; none after
    assert action.executions == {"running": 1, "announced": 1}


async def test_a_cancel_cannot_stop_an_action_command_and_says_so() -> None:
    plan, _ = await planned(["long"], job())
    action = FakeAction(duration=3000)
    control = RunControl()
    runner = Runner(plan, action, settings=EngineSettings(), control=control)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_cancel_later, control)
        results = await runner.run()
    result = results[0]
    assert result.status is Status.ERROR
    assert result.reason is not None
    assert "could not cancel (NotCancelable" in result.reason and "still Running" in result.reason
    assert action.executions["long"] == 1


async def _cancel_later(control: RunControl) -> None:
    await anyio.sleep(100)
    control.cancel()


def _invocation(plan: RunPlan, target: Target) -> Invocation:
    inv = invocation_for(plan.spec, target, RUN)
    assert inv is not None
    return inv


class ReadLog(FakeAction):
    """The fake that also records what each read named (the operation's handle or not)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.named: list[str] = []

    async def get(self, target: Target, run_command: str) -> RunView | CallError:
        self.named.append(run_command)
        return await super().get(target, run_command)


async def test_with_history_each_operation_is_read_once_through_its_handle() -> None:
    """History-seeded polling (#16) plans the reads of the action run command's operation
    (the locator its POST answered) as it does instance views: a target whose history says
    30 s is first read when it should be done, so once; blind, the scouts probe it first."""
    names = [f"vm-{i}" for i in range(4)]
    plan, targets = await planned(names, job())
    blind = ReadLog(duration=30)
    assert all(r.status is Status.SUCCEEDED for r in (await run(blind, plan)).values())
    assert sum(blind.reads.values()) > len(names)
    history = Forecast({t.id.lower(): 30.0 for t in targets.values()}, 30.0, 0.1, runs=2)
    plan, targets = await planned(names, job())
    seeded = ReadLog(duration=30)
    results = await run(seeded, dataclasses.replace(plan, forecast=history))
    assert {n: r.status for n, r in results.items()} == dict.fromkeys(names, Status.SUCCEEDED)
    assert seeded.reads == dict.fromkeys(names, 1)
    assert all(name.startswith("https://fake/operations/") for name in seeded.named)

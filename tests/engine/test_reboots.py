"""Reboots after a target's script (``rollout.reboot``) against the in-memory fake, in virtual
time: who is restarted, the wait until running + agent Ready, RebootTimedOut, the gate after
the batch's reboots, lost answers (never restarted twice), refusals and stops."""

from __future__ import annotations

import anyio
import pytest

from fleet.api import Backend, prepare, run_async
from fleet.engine.runner import EngineSettings
from fleet.model import (
    Amount,
    CallError,
    HealthGate,
    Invocation,
    JobSpec,
    MachineView,
    Reboot,
    RebootOutcome,
    RestartAccepted,
    RunReport,
    ScriptSource,
    ScriptSpec,
    SourceKind,
    Status,
    Target,
)
from fleet.rollout.budget import FailureKind, classify
from fleet.rollout.control import RunControl
from tests.engine.kit import MARKER
from tests.engine.kit import reboot_job as job
from tests.fakes import (
    FORBIDDEN,
    VIRTUAL_TIME,
    Behaviour,
    FakeArm,
    RecordingObserver,
    make_target,
)

pytestmark = pytest.mark.anyio
NEEDS = Behaviour(output=f"patched; {MARKER}\n")
PATCHED = Behaviour(output="patched; no reboot required\n")


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


async def run(arm: FakeArm, spec: JobSpec, **kw: object) -> RunReport:
    backend = Backend(targets=arm, run_commands=arm, machines=arm)
    plan = await prepare(spec, backend, run_id="run-1")
    return await run_async(plan, backend, settings=EngineSettings(), **kw)  # type: ignore[arg-type]


def by_name(report: RunReport) -> dict[str, object]:
    return {r.target.name: r for r in report.results}


async def test_if_required_restarts_exactly_the_targets_that_asked_and_waits() -> None:
    arm = FakeArm()
    for i in range(6):
        arm.add(make_target(f"vm-{i}"), NEEDS if i % 2 else PATCHED)
    report = await run(arm, job())
    results = by_name(report)
    assert {n: len(t) for n, t in arm.restarts.items() if t} == {"vm-1": 1, "vm-3": 1, "vm-5": 1}
    for name, result in results.items():
        assert result.status is Status.SUCCEEDED, (name, result.reason)  # type: ignore[attr-defined]
        record = result.reboot  # type: ignore[attr-defined]
        if name in ("vm-1", "vm-3", "vm-5"):
            assert record.outcome is RebootOutcome.DONE and record.requested
            assert record.required == f"the output matched {MARKER!r}"
            # boot 30 s + agent 20 s: back at 50 s, seen by the first read after that
            assert 50 <= record.seconds_to_ready <= 80
            assert record.reads <= 6 and record.restarts == 1
        else:
            assert record is None


async def test_progress_counts_the_targets_whose_vm_is_rebooting() -> None:
    """While VMs reboot their targets are running, and the progress says how many of those
    are rebooting; none once the run is over."""
    arm = FakeArm()
    for i in range(4):
        arm.add(make_target(f"vm-{i}"), NEEDS if i % 2 else PATCHED)
    observer = RecordingObserver()
    await run(arm, job(), observer=observer)
    seen = observer.progress_seen
    assert max(p.rebooting for p in seen) == 2  # vm-1 and vm-3, restarted at the same time
    assert all(p.rebooting <= p.running for p in seen)
    assert seen[-1].rebooting == 0 and seen[-1].running == 0


async def test_always_restarts_every_success_and_never_a_failure() -> None:
    arm = FakeArm()
    arm.add(make_target("ok"), PATCHED)
    arm.add(make_target("broken"), Behaviour(exit_code=1, output=MARKER))
    report = await run(arm, job(Reboot.ALWAYS))
    results = by_name(report)
    assert dict(arm.restart_requests) == {"ok": 1}
    assert results["ok"].reboot.required == "reboot: always"  # type: ignore[attr-defined]
    assert results["broken"].status is Status.FAILED  # type: ignore[attr-defined]
    assert results["broken"].reboot is None  # type: ignore[attr-defined]


async def test_never_and_no_machines_needed() -> None:
    arm = FakeArm()
    arm.add(make_target("vm"), NEEDS)
    backend = Backend(targets=arm, run_commands=arm)  # no machines: not needed
    report = await run_async(job(Reboot.NEVER), backend)
    assert report.results[0].status is Status.SUCCEEDED and report.results[0].reboot is None
    assert not arm.restart_requests


async def test_a_vm_that_never_comes_back_is_reboot_timed_out_and_spends_the_budget() -> None:
    arm = FakeArm()
    arm.add(make_target("dead"), Behaviour(output=MARKER, agent_never=True))
    t0 = anyio.current_time()
    (result,) = (await run(arm, job(timeout_s=600))).results
    waited = anyio.current_time() - t0
    assert result.status is Status.REBOOT_TIMED_OUT
    assert classify(result) is FailureKind.FAILURE
    assert result.exit_code == 0 and MARKER in result.output  # the script's result is kept
    assert "not back (running, agent Ready) within 600 s" in (result.reason or "")
    assert "agent Not Ready" in (result.reason or "")
    assert result.reboot is not None and result.reboot.outcome is RebootOutcome.TIMED_OUT
    assert 600 <= waited <= 700  # the timeout counts from the restart, read once at its end
    assert result.reboot.reads <= 16  # at most a minute apart, after the first probes


async def test_the_gate_runs_after_every_reboot_of_its_batch() -> None:
    arm = FakeArm()
    for name, b in (("a", NEEDS), ("b", PATCHED), ("c", NEEDS), ("d", PATCHED)):
        arm.add(make_target(name), b)
    gate_script = ScriptSpec(ScriptSource(SourceKind.INLINE, "check"), timeout_s=60)
    spec = job(
        batches=(Amount(count=2),), gates=(HealthGate("health", gate_script),)
    )  # batches of 2: a+b, then c+d
    gate_puts: list[tuple[str, float]] = []
    put = arm.put

    async def recording_put(target: Target, invocation: Invocation):  # type: ignore[no-untyped-def]
        if "gate" in invocation.run_command:
            gate_puts.append((target.name, anyio.current_time()))
        return await put(target, invocation)

    arm.put = recording_put  # type: ignore[method-assign]
    observer = RecordingObserver()
    report = await run(arm, spec, observer=observer)
    assert all(r.status is Status.SUCCEEDED for r in report.results)
    assert [g.passed for g in report.rollout.gates] == [True]  # type: ignore[union-attr]
    back_a = arm.restarts["a"][0] + 50  # boot 30 + agent 20
    assert {n for n, _ in gate_puts} == {"a", "b"}
    assert all(t >= back_a for _, t in gate_puts)  # the gate waited for a's reboot
    names = observer.names()
    assert names.index("gate_finished") > names.index("batch_finished")
    assert "gate" not in " ".join(arm.restarts)  # a gate never reboots anything
    assert sum(len(t) for t in arm.restarts.values()) == 2


async def test_a_lost_answer_is_never_sent_again_when_azure_shows_the_restart() -> None:
    arm = FakeArm()
    arm.add(make_target("vm"), Behaviour(output=MARKER, restart_faults=["after"]))
    (result,) = (await run(arm, job())).results
    assert arm.restart_requests["vm"] == 1 and len(arm.restarts["vm"]) == 1
    assert result.status is Status.SUCCEEDED
    assert result.reboot is not None and result.reboot.outcome is RebootOutcome.DONE


async def test_a_restart_proven_lost_is_sent_once_more() -> None:
    arm = FakeArm()
    arm.add(make_target("vm"), Behaviour(output=MARKER, restart_faults=["before"]))
    (result,) = (await run(arm, job())).results
    assert arm.restart_requests["vm"] == 2 and len(arm.restarts["vm"]) == 1
    assert result.reboot is not None and result.reboot.outcome is RebootOutcome.DONE
    assert result.reboot.restarts == 2


class BlindAfterRestart(FakeArm):
    """The read before the restart works; every instance-view read after it fails."""

    async def view(self, target: Target) -> MachineView | CallError:
        if self.restart_requests[target.name]:
            return CallError(503, "ServiceUnavailable", "Try again later.")
        return await super().view(target)


async def test_unreadable_after_a_lost_answer_is_error_and_not_resent() -> None:
    arm = BlindAfterRestart()
    arm.add(make_target("vm"), Behaviour(output=MARKER, restart_faults=["before"]))
    (result,) = (await run(arm, job())).results
    assert arm.restart_requests["vm"] == 1
    assert result.status is Status.ERROR
    assert "fate is unknown" in (result.reason or "")
    assert result.reboot is not None and result.reboot.outcome is RebootOutcome.UNKNOWN


async def test_a_refused_restart_keeps_the_script_result_and_says_why() -> None:
    arm = FakeArm()
    arm.add(make_target("vm"), Behaviour(output=MARKER, restart_error=FORBIDDEN))
    (result,) = (await run(arm, job())).results
    assert result.status is Status.ACCESS_DENIED
    assert "the restart failed: AuthorizationFailed" in (result.reason or "")
    assert result.reboot is not None and result.reboot.outcome is RebootOutcome.REFUSED
    assert result.reboot.requested is False and result.exit_code == 0


async def test_after_a_stop_no_restart_is_sent_and_the_record_says_so() -> None:
    arm = FakeArm()
    arm.add(make_target("vm"), Behaviour(output=MARKER, duration=100))
    control = RunControl()

    async def stop_soon() -> None:
        await anyio.sleep(50)  # while the script runs
        control.stop()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stop_soon)
        report = await run(arm, job(cancel_grace_s=3600), control=control)
    (result,) = report.results
    assert not arm.restart_requests
    assert result.status is Status.SUCCEEDED and report.ended == "canceled"
    assert result.reboot is not None and result.reboot.outcome is RebootOutcome.NOT_REQUESTED
    assert "the run stopped" in (result.reboot.detail or "")


async def test_a_halt_lets_running_targets_finish_their_reboot() -> None:
    arm = FakeArm()
    arm.add(make_target("a-fails"), Behaviour(exit_code=1, duration=5))
    arm.add(make_target("b-reboots"), Behaviour(output=MARKER, duration=20))
    report = await run(arm, job(max_errors=Amount(count=0)))
    results = by_name(report)
    assert report.ended == "halted-by-error-budget"
    assert results["b-reboots"].reboot.outcome is RebootOutcome.DONE  # type: ignore[attr-defined]
    assert len(arm.restarts["b-reboots"]) == 1


class Announcing(FakeArm):
    """Sets ``restarted`` when a restart reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.restarted = anyio.Event()

    async def restart(self, target: Target) -> RestartAccepted | CallError:
        answer = await super().restart(target)
        self.restarted.set()
        return answer


async def test_a_cancel_while_a_vm_reboots_ends_the_wait_and_says_so() -> None:
    arm = Announcing()
    arm.add(make_target("vm"), Behaviour(output=MARKER, duration=10, boot=300))
    control = RunControl()

    async def cancel_during_the_boot() -> None:
        await arm.restarted.wait()
        await anyio.sleep(30)
        control.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(cancel_during_the_boot)
        report = await run(arm, job(), control=control)
    (result,) = report.results
    assert len(arm.restarts["vm"]) == 1
    assert result.status is Status.ERROR
    assert "was restarting" in (result.reason or "") and "PowerState/starting" in result.reason
    assert result.reboot is not None and result.reboot.outcome is RebootOutcome.ABANDONED

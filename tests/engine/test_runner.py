"""The engine against the in-memory ARM fake, in virtual time: outcomes, exactly-once delivery
(on a fake where an identical PUT runs the script again), retries, the concurrency limit,
progress and redaction."""

from __future__ import annotations

from dataclasses import replace

import anyio
import pytest

from fleet.api import Backend, prepare, run_async
from fleet.engine.runner import EngineSettings, Runner
from fleet.model import (
    RUN_ID_PARAMETER,
    CallError,
    Concurrency,
    Invocation,
    JobSpec,
    Order,
    Parameter,
    RolloutPlan,
    RunPlan,
    RunReport,
    ScriptSource,
    ScriptSpec,
    Secret,
    Selector,
    SourceKind,
    Status,
    Target,
)
from tests.fakes import (
    FORBIDDEN,
    NOT_RUNNING,
    SUB,
    VIRTUAL_TIME,
    Behaviour,
    FakeArm,
    RecordingObserver,
    make_target,
)

pytestmark = pytest.mark.anyio

TIMEOUT_S = 60
GRACE_S = 120.0


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


def spec(script: ScriptSpec | None = None, *, concurrency: int | None = None) -> JobSpec:
    script = script or ScriptSpec(ScriptSource(SourceKind.INLINE, "echo hi"), timeout_s=TIMEOUT_S)
    return JobSpec("patch", Selector(), script, Concurrency(count=concurrency))


async def run(arm: FakeArm, job: JobSpec | None = None, **kwargs: object) -> RunReport:
    backend = Backend(targets=arm, run_commands=arm)
    settings = EngineSettings(wedge_grace_s=GRACE_S)
    plan = await prepare(job or spec(), backend, run_id="run-1")
    return await run_async(plan, backend, settings=settings, **kwargs)


def by_name(report: RunReport) -> dict[str, object]:
    return {r.target.name: r for r in report.results}


async def test_mixed_fleet_gets_one_precise_status_per_target() -> None:
    arm = FakeArm()
    arm.add(make_target("ok"), Behaviour(duration=12, output="hi\n"))
    arm.add(make_target("fails"), Behaviour(exit_code=3, error="boom"))
    arm.add(make_target("dealloc", power_state="deallocated"))
    arm.add(make_target("stopped"), Behaviour(put_error=NOT_RUNNING))
    arm.add(make_target("denied"), Behaviour(put_error=FORBIDDEN))
    arm.add(make_target("wedged"), Behaviour(wedged=True))
    arm.add(make_target("invalid"), Behaviour(put_error=CallError(400, "InvalidParameter", "x")))
    t0 = anyio.current_time()

    results = by_name(await run(arm))

    assert {name: r.status for name, r in results.items()} == {
        "ok": Status.SUCCEEDED,
        "fails": Status.FAILED,
        "dealloc": Status.SKIPPED,
        "stopped": Status.SKIPPED,
        "denied": Status.ACCESS_DENIED,
        "wedged": Status.WEDGED,
        "invalid": Status.ERROR,
    }
    assert (results["ok"].exit_code, results["ok"].output) == (0, "hi\n")
    assert (results["fails"].exit_code, results["fails"].reason) == (3, "exit code 3")
    assert results["fails"].error == "boom"
    assert results["dealloc"].reason == "not running (power state: deallocated)"
    assert "dealloc" not in arm.puts  # decided by preflight, without a write
    assert results["stopped"].reason == "not running"
    assert "AuthorizationFailed" in results["denied"].reason
    assert "wedged" in results["wedged"].reason
    assert "InvalidParameter" in results["invalid"].reason
    # The wedged target is given up exactly at timeout + grace, not before and not much later.
    assert anyio.current_time() - t0 == pytest.approx(TIMEOUT_S + GRACE_S, abs=1.0)


async def test_every_accepted_put_is_sent_and_executed_exactly_once() -> None:
    arm = FakeArm(identical_put_reruns=True)
    for i in range(30):
        arm.add(make_target(f"vm-{i:02}"), Behaviour(duration=5 + i))
    report = await run(arm)
    assert all(r.status is Status.SUCCEEDED for r in report.results)
    assert all(len(arm.puts[name]) == 1 for name in arm.targets)
    assert all(arm.executions[name] == 1 for name in arm.targets)
    assert all(r.attempts == 1 for r in report.results)
    params = {p.name: p.value for p in arm.puts["vm-00"][0].parameters}
    assert params[RUN_ID_PARAMETER] == "run-1"


async def test_put_lost_after_arrival_is_not_sent_again() -> None:
    arm = FakeArm(identical_put_reruns=True)
    arm.add(make_target("vm"), Behaviour(put_faults=["after"]))
    result = (await run(arm)).results[0]
    assert result.status is Status.SUCCEEDED
    assert (len(arm.puts["vm"]), arm.executions["vm"], result.attempts) == (1, 1, 1)


async def test_put_lost_before_arrival_is_resent_once_and_runs_once() -> None:
    arm = FakeArm(identical_put_reruns=True)
    arm.add(make_target("vm"), Behaviour(put_faults=["before"]))
    result = (await run(arm)).results[0]
    assert result.status is Status.SUCCEEDED
    assert (len(arm.puts["vm"]), arm.executions["vm"], result.attempts) == (2, 1, 2)


async def test_put_of_unknown_fate_waits_out_failing_reads_before_deciding() -> None:
    arm = FakeArm(identical_put_reruns=True)
    arm.add(make_target("vm"), Behaviour(put_faults=["after"], get_faults=2))
    result = (await run(arm)).results[0]
    assert result.status is Status.SUCCEEDED
    assert (len(arm.puts["vm"]), arm.executions["vm"]) == (1, 1)


async def test_put_whose_fate_cannot_be_learned_is_never_resent() -> None:
    arm = FakeArm(identical_put_reruns=True)
    arm.add(make_target("vm"), Behaviour(put_faults=["after"], get_faults=1000))
    result = (await run(arm)).results[0]
    assert result.status is Status.ERROR
    assert "fate is unknown" in result.reason
    assert len(arm.puts["vm"]) == 1


async def test_put_of_an_earlier_run_does_not_count_as_arrived() -> None:
    arm = FakeArm(identical_put_reruns=True)
    target = arm.add(make_target("vm"), Behaviour(duration=1))
    await run(arm)  # run-1 leaves its run command on the VM
    arm.behaviour["vm"].put_faults = ["before"]
    job = spec()
    backend = Backend(arm, arm)
    plan = await prepare(job, backend, run_id="run-2", targets=[target])
    report = await run_async(plan, backend, settings=EngineSettings())
    assert report.results[0].status is Status.SUCCEEDED
    assert [inv.run_id for inv in arm.puts["vm"]] == ["run-1", "run-2", "run-2"]
    assert arm.executions["vm"] == 2  # once per run


async def test_transient_read_errors_are_retried() -> None:
    arm = FakeArm()
    arm.add(make_target("vm"), Behaviour(duration=20, get_faults=3))
    result = (await run(arm)).results[0]
    assert result.status is Status.SUCCEEDED
    assert result.polls >= 4 and arm.gets["vm"] == result.polls


async def test_concurrency_limit_is_never_exceeded() -> None:
    arm = FakeArm()
    for i in range(40):
        arm.add(make_target(f"vm-{i:02}"), Behaviour(duration=3 + (i * 7) % 11))
    report = await run(arm, spec(concurrency=7))
    assert all(r.status is Status.SUCCEEDED for r in report.results)
    assert arm.max_in_flight == 7


async def test_progress_snapshots_add_up() -> None:
    arm = FakeArm()
    for i in range(12):
        arm.add(make_target(f"vm-{i:02}"), Behaviour(duration=2 + i, exit_code=i % 3))
    arm.add(make_target("off", power_state="stopped"))
    arm.add(make_target("stopped"), Behaviour(put_error=NOT_RUNNING))
    observer = RecordingObserver()
    await run(arm, observer=observer)
    seen = observer.progress_seen
    assert len(seen) > 3
    for p in seen:
        assert p.total == 14 and p.done <= p.total
        assert p.running <= p.launched <= 12
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    last = seen[-1]
    assert (last.done, last.skipped, last.succeeded, last.failed) == (14, 2, 4, 8)
    assert (last.launched, last.running) == (12, 0)


async def test_secrets_never_reach_results() -> None:
    secret = "hunter2-s3cret"
    script = ScriptSpec(
        ScriptSource(SourceKind.INLINE, "echo $PASSWORD"),
        protected_parameters=(Parameter("PASSWORD", Secret(secret)),),
        run_as_password=Secret("pa55word"),
        timeout_s=TIMEOUT_S,
    )
    arm = FakeArm()
    arm.add(make_target("echo"), Behaviour(output=f"pw={secret}\n", error="pa55word leaked"))
    arm.add(make_target("refused"), Behaviour(put_error=CallError(400, "Bad", f"got {secret}")))
    results = by_name(await run(arm, spec(script)))
    assert results["echo"].output == "pw=***\n"
    assert results["echo"].error == "*** leaked"
    assert secret not in results["refused"].reason and "***" in results["refused"].reason


async def test_per_os_variants_pick_the_right_source_and_skip_the_rest() -> None:
    linux = ScriptSource(SourceKind.INLINE, "uname")
    windows = ScriptSource(SourceKind.COMMAND_ID, "RunPowerShellScript")
    script = ScriptSpec(None, linux=linux, windows=windows, timeout_s=TIMEOUT_S)
    arm = FakeArm()
    arm.add(make_target("lin", os="linux"))
    arm.add(make_target("win", os="windows"))
    arm.add(make_target("unknown", os=None))
    results = by_name(await run(arm, spec(script)))
    assert arm.puts["lin"][0].source == linux
    assert arm.puts["win"][0].source == windows
    assert results["unknown"].status is Status.SKIPPED
    assert results["unknown"].reason == "the job has no script for OS unknown"
    assert "unknown" not in arm.puts


async def test_target_without_a_variant_for_its_os_is_skipped() -> None:
    script = ScriptSpec(None, linux=ScriptSource(SourceKind.INLINE, "uname"), timeout_s=TIMEOUT_S)
    arm = FakeArm()
    arm.add(make_target("win", os="windows"))
    result = (await run(arm, spec(script))).results[0]
    assert (result.status, result.reason) == (
        Status.SKIPPED,
        "the job has no script for OS windows",
    )
    assert not arm.puts


async def test_results_keep_selection_order_and_runner_accepts_empty_fleet() -> None:
    arm = FakeArm()
    for name in ("c", "a", "b"):
        arm.add(make_target(name, power_state="deallocated" if name == "a" else "running"))
    report = await run(arm)
    assert [r.target.name for r in report.results] == ["c", "a", "b"]
    empty = RunPlan("r", spec(), (), (), RolloutPlan(Order.AS_SELECTED, ()))
    assert await Runner(empty, arm).run() == []


async def test_sends_waiting_on_one_subscription_never_hold_back_another() -> None:
    """ARM's write bucket is per subscription: while every PUT slot of subscription A waits
    (here: its PUTs hang until released), subscription B's targets — planned after all of A's —
    are still sent. With one set of slots for the whole run, a 4-subscription bench fleet ran
    one subscription after another (mixed-10k: ~1,150 s instead of ~500 s)."""
    other = "00000000-0000-4000-8000-0000000000bb"
    release, b_sent = anyio.Event(), anyio.Event()

    class OneSubscriptionStalls(FakeArm):
        async def put(self, target: Target, invocation: Invocation) -> CallError | None:
            if target.subscription != other:
                await release.wait()
            answer = await super().put(target, invocation)
            if all(self.puts[name] for name in late):
                b_sent.set()
            return answer

    arm = OneSubscriptionStalls()
    count = EngineSettings().puts_in_flight + 8
    for i in range(count):
        arm.add(make_target(f"a-{i:02}"), Behaviour(duration=2))
    late = [f"b-{i}" for i in range(3)]
    for name in late:
        target = make_target(name)
        arm.add(replace(target, subscription=other, id=target.id.replace(SUB, other)))
    async with anyio.create_task_group() as tg:

        async def release_once_b_was_sent() -> None:
            with anyio.fail_after(600):  # virtual seconds: B's PUTs wait on nothing of A's
                await b_sent.wait()
            assert not any(arm.puts[f"a-{i:02}"] for i in range(count))  # A still stalled
            release.set()

        tg.start_soon(release_once_b_was_sent)
        report = await run(arm)
    assert all(r.status is Status.SUCCEEDED for r in report.results)
    assert len(report.results) == count + len(late)

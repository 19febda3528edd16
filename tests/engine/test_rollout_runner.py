"""Rollout execution against the in-memory ARM fake, in virtual time: batches in sequence, the
error budget, health gates, soak pauses, the deadline and both cancel stages."""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict

import anyio
import pytest

from fleet.api import Backend, prepare, run_async
from fleet.engine.runner import EngineSettings, Runner
from fleet.model import (
    Amount,
    Concurrency,
    GateRecord,
    HealthGate,
    Invocation,
    JobSpec,
    Order,
    Progress,
    RolloutPolicy,
    RunReport,
    ScriptSource,
    ScriptSpec,
    Selector,
    SourceKind,
    Status,
    Target,
    TargetResult,
)
from fleet.ports import RunObserver
from fleet.report.progress import plain_line
from fleet.rollout.control import RunControl
from tests.fakes import (
    FORBIDDEN,
    NOT_RUNNING,
    VIRTUAL_TIME,
    Behaviour,
    FakeArm,
    make_target,
)

pytestmark = pytest.mark.anyio
TIMEOUT_S = 600


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


class RecordingArm(FakeArm):
    """FakeArm that also records when each PUT and DELETE happened (virtual seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.put_times: dict[str, list[float]] = defaultdict(list)
        self.deletes: dict[str, float] = {}

    async def put(self, target: Target, invocation: Invocation):  # type: ignore[no-untyped-def]
        self.put_times[target.name].append(anyio.current_time())
        return await super().put(target, invocation)

    async def delete(self, target: Target, run_command: str):  # type: ignore[no-untyped-def]
        self.deletes[target.name] = anyio.current_time()
        return await super().delete(target, run_command)

    def job_puts(self, name: str) -> list[Invocation]:
        return [inv for inv in self.puts[name] if "-gate-" not in inv.run_command]


def script(text: str = "patch", timeout: int = TIMEOUT_S) -> ScriptSpec:
    return ScriptSpec(ScriptSource(SourceKind.INLINE, text), timeout_s=timeout)


def job(concurrency: int | None = None, **rollout: object) -> JobSpec:
    policy = RolloutPolicy(**rollout)
    return JobSpec("patch", Selector(), script(), Concurrency(count=concurrency), rollout=policy)


def fleet(count: int, **behaviour: object) -> RecordingArm:
    arm = RecordingArm()
    for i in range(count):
        arm.add(make_target(f"vm-{i:02}"), Behaviour(**behaviour))
    return arm


async def run(
    arm: FakeArm, spec: JobSpec, *, targets: list[Target] | None = None, **kw: object
) -> RunReport:
    backend = Backend(arm, arm)
    plan = await prepare(spec, backend, run_id="run-1", targets=targets)
    return await run_async(plan, backend, settings=EngineSettings(), **kw)


def statuses(report: RunReport) -> dict[str, Status]:
    return {r.target.name: r.status for r in report.results}


def count(report: RunReport, status: Status) -> int:
    return sum(r.status is status for r in report.results)


async def test_batches_run_one_after_another_in_plan_order() -> None:
    arm = fleet(12, duration=20)
    spec = job(batches=(Amount(count=1), Amount(percent=25)), order=Order.NAME)
    report = await run(arm, spec)
    assert report.ended == "completed" and count(report, Status.SUCCEEDED) == 12
    batches = report.rollout.batches
    assert [len(b.target_ids) for b in batches] == [1, 3, 3, 3, 2]
    assert all(b.started for b in batches)
    by_id = {r.target.id: r for r in report.results}
    for earlier, later in itertools.pairwise(batches):
        last_read = max(arm.get_times[by_id[i].target.name][-1] for i in earlier.target_ids)
        first_put = min(arm.put_times[by_id[i].target.name][0] for i in later.target_ids)
        assert first_put >= last_read  # each batch finishes before the next starts
    assert all(len(arm.puts[name]) == 1 for name in arm.targets)  # exactly once, still


async def test_error_budget_stops_launches_at_max_errors_plus_one_when_serial() -> None:
    arm = fleet(20, exit_code=1)
    report = await run(arm, job(concurrency=1, max_errors=Amount(count=2)))
    assert sum(len(p) for p in arm.puts.values()) == 3  # the 3rd failure exceeds the budget
    assert count(report, Status.FAILED) == 3 and count(report, Status.NOT_STARTED) == 17
    not_started = [r for r in report.results if r.status is Status.NOT_STARTED]
    assert {r.reason for r in not_started} == {"error budget exhausted"}
    assert report.ended == "halted-by-error-budget"
    assert report.ended_detail == "3 failures exceeded max_errors 2"
    assert (report.rollout.max_errors, report.rollout.script_failures) == (2, 3)


async def test_progress_counts_not_started_apart_from_failures() -> None:
    class Last(RunObserver):
        progress_seen: Progress | None = None

        def progress(self, progress: Progress) -> None:
            self.progress_seen = progress

    arm, observer = fleet(20, exit_code=1), Last()
    report = await run(arm, job(concurrency=1, max_errors=Amount(count=2)), observer=observer)
    final = observer.progress_seen
    assert final is not None and count(report, Status.NOT_STARTED) == 17
    assert (final.failed, final.not_started, final.done) == (3, 17, 20)  # 17 were never failures
    assert "failed 3," in plain_line(final) and "not started 17" in plain_line(final)


@pytest.mark.parametrize("concurrency", [2, 4, 7])
async def test_error_budget_never_exceeded_by_more_than_the_targets_in_flight(
    concurrency: int,
) -> None:
    arm = RecordingArm()
    for i in range(40):
        arm.add(make_target(f"vm-{i:02}"), Behaviour(duration=5 + (i * 7) % 13, exit_code=i % 2))
    report = await run(arm, job(concurrency=concurrency, max_errors=Amount(percent=10)))
    launched = sum(1 for name in arm.targets if arm.puts[name])
    failed = count(report, Status.FAILED)
    assert report.ended == "halted-by-error-budget"
    assert 4 + 1 <= failed <= 4 + concurrency  # 10% of 40 = 4: max_errors + in-flight failures
    assert launched == failed + count(report, Status.SUCCEEDED)
    assert count(report, Status.NOT_STARTED) == 40 - launched > 0


def trouble() -> RecordingArm:
    """Six healthy VMs and three platform failures: access denied, not running, no agent."""
    arm = fleet(6)
    arm.add(make_target("a-denied"), Behaviour(put_error=FORBIDDEN))
    arm.add(make_target("a-stopped"), Behaviour(put_error=NOT_RUNNING))
    arm.add(make_target("a-no-agent"), Behaviour(agent_not_ready=True))
    return arm


async def test_platform_failures_are_counted_apart_and_spend_the_budget_only_if_asked() -> None:
    spec = job(concurrency=1, max_errors=Amount(count=0), order=Order.NAME)
    report = await run(trouble(), spec)
    assert report.ended == "completed" and count(report, Status.SUCCEEDED) == 6
    assert (report.rollout.platform_failures, report.rollout.script_failures) == (3, 0)
    strict = dataclasses.replace(spec.rollout, count_platform_failures=True)
    report = await run(trouble(), dataclasses.replace(spec, rollout=strict))
    assert report.ended == "halted-by-error-budget"
    assert statuses(report)["a-denied"] is Status.ACCESS_DENIED
    assert count(report, Status.NOT_STARTED) == 8  # halted after the first (a-denied)


def gated(gate: HealthGate, **rollout: object) -> JobSpec:
    batches = (Amount(count=1), Amount(count=3), Amount(percent=100))
    return job(batches=batches, order=Order.NAME, gates=(gate,), **rollout)


async def test_failing_gate_halts_after_the_right_batch_and_says_which() -> None:
    arm = fleet(10)
    arm.behaviour["vm-03"].exit_code = 1  # in batch 2 (vm-01..03); the gate fails on it too
    gate = HealthGate("smoke", script("curl -f localhost"))
    report = await run(arm, gated(gate))
    assert report.ended == "halted-by-gate"
    assert report.ended_detail.startswith("gate 'smoke' failed after batch 2: 1 of 3 checked")
    assert "vm-03: exit code 1" in report.ended_detail
    results = statuses(report)
    assert [results[f"vm-0{i}"] for i in range(4)] == [Status.SUCCEEDED] * 3 + [Status.FAILED]
    assert all(results[f"vm-0{i}"] is Status.NOT_STARTED for i in range(4, 10))
    assert not any(arm.puts[f"vm-0{i}"] for i in range(4, 10))
    assert [(g.batch, g.passed) for g in report.rollout.gates] == [(1, True), (2, False)]
    gate_put = arm.puts["vm-00"][1]
    assert gate_put.run_command == "fleet-patch-gate-smoke" and gate_put.run_id == "run-1-b1"
    assert [b.started for b in report.rollout.batches] == [True, True, False]


async def test_sentinel_gate_runs_on_the_sentinels_after_every_batch() -> None:
    arm = fleet(5)
    probe = arm.add(make_target("probe-1"), Behaviour(output="status: OK\n"))
    gate = HealthGate("probe", script("check"), expect_output="status: OK", sentinels=("probe-*",))
    targets = [t for t in arm.targets.values() if t is not probe]
    report = await run(arm, gated(gate), targets=targets)
    assert report.ended == "completed" and count(report, Status.SUCCEEDED) == 5
    assert "probe-1" not in statuses(report)  # a sentinel is checked, not rolled out to
    assert [inv.run_id for inv in arm.puts["probe-1"]] == ["run-1-b1", "run-1-b2"]
    arm.behaviour["probe-1"].output = "status: DEGRADED\n"
    report = await run(arm, gated(gate), targets=targets)
    assert report.ended == "halted-by-gate" and count(report, Status.NOT_STARTED) == 4


async def test_pause_between_batches_soaks_before_the_next_batch() -> None:
    arm = fleet(3, duration=10)
    report = await run(arm, job(batches=(Amount(count=1),), order=Order.NAME, pause_s=300))
    assert report.ended == "completed"
    done_1 = arm.get_times["vm-00"][-1]
    assert arm.put_times["vm-01"][0] - done_1 == pytest.approx(300, abs=0.01)
    assert arm.put_times["vm-02"][0] - arm.get_times["vm-01"][-1] == pytest.approx(300, abs=0.01)


async def test_deadline_stops_launching_and_reports_the_rest_not_started() -> None:
    arm = fleet(10, duration=100, pickup=0)
    t0 = anyio.current_time()
    report = await run(arm, job(concurrency=2, deadline_s=250, order=Order.NAME))
    launched = [name for name in arm.targets if arm.puts[name]]
    assert all(arm.put_times[name][0] - t0 < 250 for name in launched)
    assert 2 < len(launched) < 10
    assert report.ended == "deadline" and "deadline" in report.ended_detail
    rest = [r for r in report.results if r.status is Status.NOT_STARTED]
    assert len(rest) == 10 - len(launched) and rest[0].reason == "the run's deadline passed"
    assert count(report, Status.SUCCEEDED) == len(launched)  # in flight ones finished (grace)


async def interrupt_after(control: RunControl, *delays: float) -> None:
    for delay in delays:
        await anyio.sleep(delay)
        control.interrupt()


async def run_interrupted(arm: FakeArm, spec: JobSpec, *delays: float) -> RunReport:
    control = RunControl(cancel_running=spec.rollout.cancel_running)
    async with anyio.create_task_group() as tg:
        tg.start_soon(interrupt_after, control, *delays)
        report = await run(arm, spec, control=control)
        tg.cancel_scope.cancel()
    return report


async def test_first_interrupt_stops_launching_and_lets_running_targets_finish() -> None:
    arm = fleet(10, duration=100, pickup=0)
    report = await run_interrupted(arm, job(concurrency=3, order=Order.NAME), 50)
    assert report.ended == "canceled"
    assert [statuses(report)[f"vm-0{i}"] for i in range(3)] == [Status.SUCCEEDED] * 3
    assert count(report, Status.NOT_STARTED) == 7 and not arm.deletes


async def test_grace_period_expiry_leaves_running_commands_and_says_so() -> None:
    arm = fleet(4, wedged=True)
    spec = job(concurrency=2, order=Order.NAME, cancel_grace_s=30)
    t0 = anyio.current_time()
    report = await run_interrupted(arm, spec, 50)
    assert anyio.current_time() - t0 == pytest.approx(80, abs=1)  # interrupt + grace
    left = [r for r in report.results if r.status is Status.ERROR]
    assert [r.target.name for r in left] == ["vm-00", "vm-01"]
    assert "left running (not deleted)" in left[0].reason and not arm.deletes
    assert count(report, Status.NOT_STARTED) == 2


async def test_second_interrupt_deletes_in_flight_run_commands() -> None:
    arm = fleet(6, duration=1000, pickup=0)
    report = await run_interrupted(arm, job(concurrency=2, order=Order.NAME), 50, 10)
    assert report.ended == "canceled"
    assert sorted(arm.deletes) == ["vm-00", "vm-01"]
    assert all(t == pytest.approx(60, abs=1) for t in arm.deletes.values())
    canceled = [r for r in report.results if r.status is Status.CANCELED]
    assert [r.target.name for r in canceled] == ["vm-00", "vm-01"]
    assert "deleted while Running" in canceled[0].reason
    assert count(report, Status.NOT_STARTED) == 4
    assert all(len(arm.puts[n]) == 1 for n in ("vm-00", "vm-01"))


async def test_cancel_running_deletes_on_the_first_interrupt() -> None:
    arm = fleet(6, duration=1000, pickup=0)
    report = await run_interrupted(arm, job(concurrency=3, cancel_running=True), 50)
    assert len(arm.deletes) == 3 and count(report, Status.CANCELED) == 3
    assert count(report, Status.NOT_STARTED) == 3


async def test_a_command_that_finished_before_the_delete_keeps_its_real_outcome() -> None:
    arm = fleet(2, duration=40, pickup=0)
    arm.behaviour["vm-01"].duration = 1000
    report = await run_interrupted(arm, job(cancel_running=True), 45)
    assert statuses(report) == {"vm-00": Status.SUCCEEDED, "vm-01": Status.CANCELED}
    assert list(arm.deletes) == ["vm-01"]


class SlowPutArm(RecordingArm):
    """Each PUT waits its turn like a throttled write bucket: one admitted per fake second."""

    def __init__(self) -> None:
        super().__init__()
        self._next_slot = 0.0

    async def put(self, target: Target, invocation: Invocation):  # type: ignore[no-untyped-def]
        now = anyio.current_time()
        self._next_slot = max(self._next_slot, now) + 1.0
        await anyio.sleep(self._next_slot - now)
        return await super().put(target, invocation)


async def test_a_stop_holds_back_puts_queued_behind_the_throttle() -> None:
    """With every target in flight (no concurrency limit), only the few PUT slots already
    waiting for a write token may still go out after the budget is spent."""
    arm = SlowPutArm()
    for i in range(200):
        arm.add(make_target(f"vm-{i:03}"), Behaviour(duration=2, exit_code=1))
    report = await run(arm, job(max_errors=Amount(count=0)))
    launched = sum(1 for name in arm.targets if arm.puts[name])
    assert report.ended == "halted-by-error-budget"
    assert launched <= 1 + 32 + 2  # the default PUT slots, not all 200 (200 without them)
    assert count(report, Status.NOT_STARTED) == 200 - launched


@pytest.mark.parametrize(
    ("before", "checked"),
    [
        ((GateRecord("first", 1, True, "ok"),), ["second"]),  # crashed between the two gates
        ((GateRecord("first", 1, False, "1 of 1 failed"),), []),  # the halt gone on past
        ((), ["first", "second"]),  # crashed before any verdict
    ],
)
async def test_a_resumed_run_checks_only_the_gates_not_judged_before(
    before: tuple[GateRecord, ...], checked: list[str]
) -> None:
    arm = fleet(3)
    gates = (HealthGate("first", script("a")), HealthGate("second", script("b")))
    spec = job(batches=(Amount(count=1), Amount(percent=100)), order=Order.NAME, gates=gates)
    plan = await prepare(spec, Backend(arm, arm), run_id="run-1")
    done = [TargetResult(t, Status.SUCCEEDED, exit_code=0) for t in plan.rollout.batches[0].targets]
    runner = Runner(plan, arm, settings=EngineSettings())
    await runner.run(done=done, gates_before=before, count_done=not before or before[0].passed)
    sent = [inv.run_command for inv in arm.puts["vm-00"]]
    assert sent == [f"fleet-patch-gate-{name}" for name in checked]  # batch 1 itself: not again
    assert [g.gate for g in runner.record().gates] == checked  # the new verdicts only
    assert runner.control.ended.value == "completed"
    assert len(arm.job_puts("vm-01")) == 1 and len(arm.job_puts("vm-02")) == 1

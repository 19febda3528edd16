"""Dead agents, timeouts on both OSes and in-flight instance views, against the in-memory fake in
virtual time (the fake follows the Linux handler: Failed/-1 at a timeout, exitCode 0 and partial
output while running; Windows: TimedOut)."""

from __future__ import annotations

import anyio
import pytest

from fleet.api import Backend, prepare, run_async
from fleet.engine.runner import EngineSettings
from fleet.model import (
    Amount,
    JobSpec,
    RolloutPolicy,
    RunReport,
    RunView,
    ScriptSource,
    ScriptSpec,
    Selector,
    SourceKind,
    Status,
    Target,
)
from fleet.model.rollout import PENDING_TIMEOUT_S
from fleet.rollout.budget import FailureKind, classify
from tests.fakes import VIRTUAL_TIME, Behaviour, FakeArm, make_target

pytestmark = pytest.mark.anyio
GRACE_S = 120.0


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


def job(timeout_s: int = 60, **rollout: object) -> JobSpec:
    script = ScriptSpec(ScriptSource(SourceKind.INLINE, "work"), timeout_s=timeout_s)
    return JobSpec("job", Selector(), script, rollout=RolloutPolicy(**rollout))


async def run(arm: FakeArm, spec: JobSpec) -> RunReport:
    backend = Backend(targets=arm, run_commands=arm)
    plan = await prepare(spec, backend, run_id="run-1")
    return await run_async(plan, backend, settings=EngineSettings(wedge_grace_s=GRACE_S))


class TimedArm(FakeArm):
    """Remembers when each target's result was final (virtual seconds since the run began)."""

    def __init__(self) -> None:
        super().__init__()
        self.t0 = 0.0
        self.final_at: dict[str, float] = {}
        self.views: dict[str, list[RunView]] = {}

    async def get(self, target: Target, run_command: str):  # type: ignore[no-untyped-def]
        view = await super().get(target, run_command)
        if isinstance(view, RunView):
            self.views.setdefault(target.name, []).append(view)
            if view.terminal or view.provisioning_state == "Failed":
                self.final_at.setdefault(target.name, anyio.current_time() - self.t0)
        return view


async def test_a_dead_agent_is_agent_not_ready_when_azure_gives_up() -> None:
    arm = TimedArm()
    arm.add(make_target("dead"), Behaviour(agent_not_ready=True))
    arm.t0 = anyio.current_time()
    (result,) = (await run(arm, job())).results
    elapsed = anyio.current_time() - arm.t0
    assert result.status is Status.AGENT_NOT_READY
    assert "gave up on the VM agent" in result.reason and result.started_at is None
    assert result.execution_state == "Pending" and result.exit_code is None
    assert 1522 <= elapsed <= PENDING_TIMEOUT_S  # Azure's verdict, within pending_timeout
    # budgeted: geometric back-off to the 300 s max gap (~10 reads), then one per max gap
    assert result.polls <= 20
    assert classify(result) is FailureKind.PLATFORM


async def test_pending_timeout_ends_a_dead_agent_sooner_and_says_azure_may_still_deliver() -> None:
    arm = TimedArm()
    arm.add(make_target("dead"), Behaviour(agent_not_ready=True))
    arm.t0 = anyio.current_time()
    (result,) = (await run(arm, job(pending_timeout_s=300))).results
    assert anyio.current_time() - arm.t0 == pytest.approx(300, abs=1)
    assert result.status is Status.AGENT_NOT_READY
    assert "300 s after launch (pending_timeout)" in result.reason
    assert "Azure may still deliver it" in result.reason


async def test_one_dead_agent_holds_its_batch_no_longer_than_pending_timeout() -> None:
    arm = TimedArm()
    arm.add(make_target("a-dead"), Behaviour(agent_not_ready=True))
    for i in range(4):
        arm.add(make_target(f"b-{i}"), Behaviour(duration=20))
    spec = job(pending_timeout_s=240, batches=(Amount(count=1), Amount(count=4)))
    arm.t0 = anyio.current_time()
    report = await run(arm, spec)
    assert anyio.current_time() - arm.t0 < 240 + 60  # batch 2 took its 20 s after 240 s
    statuses = {r.target.name: r.status for r in report.results}
    assert statuses.pop("a-dead") is Status.AGENT_NOT_READY
    assert set(statuses.values()) == {Status.SUCCEEDED}


async def test_a_command_pending_for_a_while_then_running_gets_its_full_timeout() -> None:
    """The script timeout counts from the start, not the launch: a slow pickup (agent coming
    back after a restart) is not a wedge."""
    arm = TimedArm()
    arm.add(make_target("slow"), Behaviour(pickup=400, duration=50, output="done\n"))
    (result,) = (await run(arm, job(timeout_s=60))).results
    assert result.status is Status.SUCCEEDED and result.output == "done\n"


@pytest.mark.parametrize("os", ["linux", "windows"])
async def test_a_script_killed_at_its_timeout_is_timed_out_on_both_oses(os: str) -> None:
    arm = TimedArm()
    arm.add(make_target("slow", os=os), Behaviour(duration=500))
    (result,) = (await run(arm, job(timeout_s=60))).results
    assert result.status is Status.TIMED_OUT
    last = arm.views["slow"][-1]
    assert (last.execution_state, last.exit_code) == (
        ("Failed", -1) if os == "linux" else ("TimedOut", None)
    )
    assert result.execution_state == last.execution_state  # Azure's word, verbatim


async def test_timeout_zero_runs_past_any_default_and_is_wedged_only_after_90_minutes() -> None:
    arm = TimedArm()
    arm.add(make_target("long"), Behaviour(duration=3000, output="finished\n"))
    arm.add(make_target("forever"), Behaviour(duration=10**6))
    arm.t0 = anyio.current_time()
    results = {r.target.name: r for r in (await run(arm, job(timeout_s=0))).results}
    assert results["long"].status is Status.SUCCEEDED  # 50 min: no handler timeout
    assert results["forever"].status is Status.WEDGED
    assert results["forever"].exit_code is None  # in flight, Linux says 0: that means nothing
    assert anyio.current_time() - arm.t0 == pytest.approx(5400 + GRACE_S, abs=5)
    assert arm.puts["long"][0].timeout_s == 0  # sent as timeoutInSeconds 0


async def test_in_flight_views_with_exit_code_zero_and_output_never_end_a_target() -> None:
    arm = TimedArm()
    arm.add(make_target("vm"), Behaviour(duration=200, exit_code=3, output="step 1\nstep 2\n"))
    (result,) = (await run(arm, job(timeout_s=600))).results
    running = [v for v in arm.views["vm"] if v.execution_state == "Running"]
    assert running and all(v.exit_code == 0 and v.output for v in running)
    assert result.status is Status.FAILED and result.exit_code == 3
    assert result.output == "step 1\nstep 2\n"  # the final view's, not a partial one

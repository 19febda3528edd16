"""The scheduler: runs a rollout plan batch by batch — one task per target under a concurrency
limit, each batch finishing before the next starts — with the error budget, soak pauses,
health gates, the run's deadline and stop/cancel (``fleet.rollout.control``) applied between
and during batches. Structured concurrency only (anyio task groups).

A target is launched only while the run is RUNNING, checked when it gets its concurrency slot
and again when it gets one of the few PUT slots (``EngineSettings.puts_in_flight``), right
before the intent is journaled and the PUT is sent: once the run stops or the error budget is
exhausted, only the PUTs already waiting for a write token can still go out. Targets the
rollout never launched are reported ``NotStarted`` with why.

Journal seam: every per-target state change goes through :meth:`Runner._transition`
(LAUNCHING, LAUNCHED, CANCELING from the executor; FINAL, with the result, from ``_finish``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import anyio
import structlog

from fleet.engine.execute import Executor, Interrupt, TargetState
from fleet.engine.gate_runs import GateRuns
from fleet.engine.settings import AnyioClock, EngineSettings
from fleet.model import (
    ArmCounters,
    Batch,
    GateRecord,
    JobSpec,
    Progress,
    RolloutPlan,
    RolloutRecord,
    Status,
    Target,
    TargetResult,
)
from fleet.ports import Clock, NullRecorder, Recorder, RunCommands
from fleet.rollout.batches import plan_rollout
from fleet.rollout.budget import ErrorBudget
from fleet.rollout.control import Ended, RunControl, Stage
from fleet.secrets import Secrets
from fleet.util import failpoints

__all__ = ["AnyioClock", "EngineSettings", "Runner"]

log = structlog.get_logger("fleet.engine")


@dataclass
class _Counts:
    skipped: int = 0
    launched: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0


class Runner:
    def __init__(
        self,
        spec: JobSpec,
        run_commands: RunCommands,
        *,
        run_id: str,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        arm_counters: Callable[[], ArmCounters] | None = None,
        control: RunControl | None = None,
        sentinels: Sequence[Target] = (),
        recorder: Recorder | None = None,
    ) -> None:
        self.spec, self.run_id = spec, run_id
        self.settings = settings or EngineSettings()
        self.clock = clock or AnyioClock()
        self.on_progress = on_progress
        self.arm_counters = arm_counters or ArmCounters
        policy = spec.rollout
        self.control = control or RunControl(cancel_running=policy.cancel_running)
        self.control.subscribe(self._on_control)
        self.secrets = Secrets.from_spec(spec)
        common = {
            "run_id": run_id,
            "settings": self.settings,
            "clock": self.clock,
            "secrets": self.secrets,
        }
        self.recorder: Recorder = recorder or NullRecorder()
        self.executor = Executor(
            spec,
            run_commands,
            transition=self._transition,
            recorder=self.recorder,
            may_launch=self._may_launch,
            **common,
        )
        self.gates = GateRuns(spec, run_commands, sentinels=sentinels, **common)
        self.budget = ErrorBudget(None, policy.count_platform_failures)
        self.plan: RolloutPlan | None = None
        self.gate_records: list[GateRecord] = []
        self._counts = _Counts()
        self._results: dict[str, TargetResult] = {}
        self._launched: set[str] = set()
        self._done: dict[str, TargetResult] = {}  # resume: final before this process started
        self._reattach: Mapping[str, bool] = {}  # resume: launched before; value = ambiguous
        self._started_batches: set[int] = set()
        self._stopped: anyio.Event | None = None  # set when launching stops: ends a soak pause
        self._grace: anyio.Event | None = None  # set when a stop starts the grace period
        self._total = 0
        self._t0 = 0.0

    async def run(
        self,
        targets: Sequence[Target],
        skipped: Sequence[TargetResult] = (),
        plan: RolloutPlan | None = None,
        *,
        done: Sequence[TargetResult] = (),
        reattach: Mapping[str, bool] | None = None,
    ) -> list[TargetResult]:
        """Run the job on ``targets`` (in ``plan``'s batches, planned from the job's rollout
        policy when not given); ``skipped`` are already-final results (e.g. not running).

        Resuming a crashed run: ``done`` are targets of the plan that finished before the
        crash (they spend the error budget again, are not re-recorded); ``reattach`` maps the
        lower-cased ids of targets launched before the crash to whether their PUT's arrival
        is ambiguous (see ``Executor.resume``)."""
        self._done = {r.target.id.lower(): r for r in done}
        self._reattach = reattach or {}
        self._t0 = self.clock.now()
        self._total = len(targets) + len(skipped)
        self._stopped, self._grace = anyio.Event(), anyio.Event()
        if self.control.stage is not Stage.RUNNING:  # stopped before it started
            self._on_control(self.control)
        self.plan = plan or plan_rollout(targets, self.spec.rollout)
        max_errors = self.spec.rollout.max_errors
        self.budget.limit = None if max_errors is None else max_errors.rounded_down(len(targets))
        for result in skipped:
            self._finish(result, record=result.target.id.lower() not in self._done)
        limit = anyio.CapacityLimiter(self.spec.concurrency.resolve(len(targets) or 1))
        async with anyio.create_task_group() as tg:
            if self.on_progress is not None:
                tg.start_soon(self._progress_loop)
            if self.spec.rollout.deadline_s is not None:
                tg.start_soon(self._deadline_timer, self.spec.rollout.deadline_s)
            tg.start_soon(self._grace_timer)
            await self._batches(self.plan, limit)
            tg.cancel_scope.cancel()
        for target in targets:  # a target the plan did not contain is never silently dropped
            if target.id.lower() not in self._results:
                self._finish(TargetResult(target, Status.NOT_STARTED, reason="not in the plan"))
        self._emit_progress()
        return [self._results[t.id.lower()] for t in (*(r.target for r in skipped), *targets)]

    async def _batches(self, plan: RolloutPlan, limit: anyio.CapacityLimiter) -> None:
        for batch in plan.batches:
            if not self.control.launching_allowed:
                break
            self._started_batches.add(batch.index)
            log.info(
                "batch.started", batch=batch.index, group=batch.group, targets=len(batch.targets)
            )
            async with anyio.create_task_group() as tg:
                for target in batch.targets:
                    tg.start_soon(self._guarded, target, limit)
            log.info("batch.finished", batch=batch.index)
            finished_before = all(t.id.lower() in self._done for t in batch.targets)
            if batch is not plan.batches[-1] and not finished_before:  # resume: done already
                await self._soak()
                await self._check_gates(batch)
        reason = self.control.not_started_reason
        for target in plan.targets:
            if target.id.lower() not in self._results:
                self._finish(TargetResult(target, Status.NOT_STARTED, reason=reason))

    async def _guarded(self, target: Target, limit: anyio.CapacityLimiter) -> None:
        key = target.id.lower()
        if key in self._done:
            self.budget.record(self._done[key])
            self._finish(self._done[key], record=False)
            return
        async with limit:
            if key in self._reattach:  # in flight before the crash: follow it, whatever stage
                result = await self._attempt(
                    target, self.executor.resume(target, self._reattach[key])
                )
            elif not self.control.launching_allowed:
                reason = self.control.not_started_reason
                self._finish(TargetResult(target, Status.NOT_STARTED, reason=reason))
                return
            else:
                result = await self._attempt(target, self.executor.execute(target))
        self.budget.record(result)
        self._finish(result)
        if self.budget.exhausted and self.control.launching_allowed:
            log.warning("run.halted", reason="error budget", detail=self.budget.describe())
            self.control.halt(Ended.ERROR_BUDGET, self.budget.describe())

    def _may_launch(self) -> str | None:
        """None while the run may launch; else why not (the NotStarted reason)."""
        return None if self.control.launching_allowed else self.control.not_started_reason

    async def _attempt(self, target: Target, work: Awaitable[TargetResult]) -> TargetResult:
        try:
            return await work
        except Exception as exc:  # a bug or an unexpected SDK error: data, not a crash
            reason = self.secrets.redact(f"{type(exc).__name__}: {exc}")
            log.error("target.error", target=target.id, reason=reason)
            return TargetResult(target, Status.ERROR, reason=reason)

    async def _soak(self) -> None:
        pause = self.settings.engine_s(self.spec.rollout.pause_s)
        if pause > 0 and self.control.launching_allowed:
            with anyio.move_on_after(pause):
                assert self._stopped is not None
                await self._stopped.wait()

    async def _check_gates(self, batch: Batch) -> None:
        batch_results = [self._results[t.id.lower()] for t in batch.targets]
        for gate in self.spec.rollout.gates:
            if not self.control.launching_allowed:
                return
            record = await self.gates.check(gate, batch.index, batch_results)
            self.gate_records.append(record)
            if not record.passed and self.control.launching_allowed:
                detail = f"gate {gate.name!r} failed after batch {batch.index}: {record.reason}"
                log.warning("run.halted", reason="gate", detail=detail)
                self.control.halt(Ended.GATE, detail)

    async def _deadline_timer(self, deadline_s: int) -> None:
        await self.clock.sleep(self.settings.engine_s(deadline_s))
        log.warning("run.deadline", deadline_s=deadline_s)
        self.control.stop(Ended.DEADLINE, f"the run's deadline ({deadline_s} s) passed")

    async def _grace_timer(self) -> None:
        assert self._grace is not None
        await self._grace.wait()
        await self.clock.sleep(self.settings.engine_s(self.spec.rollout.cancel_grace_s))
        if self.control.stage is Stage.DRAINING:
            log.warning("run.grace_expired", running=self._counts.running)
            self.executor.interrupt(Interrupt.ABANDON)
            self.gates.interrupt(Interrupt.ABANDON)

    def _on_control(self, control: RunControl) -> None:
        """React to a stop/cancel transition (called synchronously by ``RunControl``)."""
        log.info("run.stage", stage=control.stage.value, ended=control.ended.value)
        if control.stage is not Stage.RUNNING and self._stopped is not None:
            self._stopped.set()
        if control.stage is Stage.DRAINING and control.bounded and self._grace is not None:
            self._grace.set()
        if control.stage is Stage.CANCELING:
            self.executor.interrupt(Interrupt.DELETE)
            self.gates.interrupt(Interrupt.DELETE)

    def _transition(
        self, target: Target, state: TargetState, result: TargetResult | None = None
    ) -> None:
        """The one place a target changes state (progress counts here; a journal hooks in)."""
        key = target.id.lower()
        if state is TargetState.LAUNCHED:
            self._launched.add(key)
            self._counts.launched += 1
            self._counts.running += 1
        elif state is TargetState.FINAL and result is not None:
            self._results[key] = result
            if key in self._launched:
                self._counts.running -= 1
            if result.status is Status.SUCCEEDED:
                self._counts.succeeded += 1
            elif result.status is Status.SKIPPED:
                self._counts.skipped += 1
            else:
                self._counts.failed += 1

    def _finish(self, result: TargetResult, *, record: bool = True) -> None:
        self._transition(result.target, TargetState.FINAL, result)
        if record:
            self.recorder.final(result)
            failpoints.hit("after-final")
        log.info(
            "target.finished",
            target=result.target.name,
            status=result.status.value,
            exit_code=result.exit_code,
            reason=result.reason,
            polls=result.polls,
        )

    def record(self) -> RolloutRecord:
        """How the rollout went, for the report."""
        batches = tuple(
            b.record(started=b.index in self._started_batches)
            for b in (self.plan.batches if self.plan else ())
        )
        return RolloutRecord(
            order=self.spec.rollout.order.value,
            batches=batches,
            gates=tuple(self.gate_records),
            max_errors=self.budget.limit,
            script_failures=self.budget.failures,
            platform_failures=self.budget.platform,
            count_platform_failures=self.budget.count_platform,
        )

    def snapshot(self) -> Progress:
        arm = self.arm_counters()
        c = self._counts
        return Progress(
            total=self._total,
            skipped=c.skipped,
            launched=c.launched,
            running=c.running,
            succeeded=c.succeeded,
            failed=c.failed,
            throttled=arm.throttled,
            throttle_wait_s=arm.throttle_wait_s,
            elapsed_s=self.clock.now() - self._t0,
        )

    def _emit_progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.snapshot())

    async def _progress_loop(self) -> None:
        while True:
            self._emit_progress()
            await anyio.sleep(self.settings.progress_interval_s)

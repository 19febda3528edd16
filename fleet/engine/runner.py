"""The scheduler: runs a ``RunPlan`` batch by batch — one task per target under a concurrency
limit, each batch finishing before the next starts — with the error budget, soak pauses,
health gates, the run's deadline and stop/cancel (``fleet.rollout.control``) applied between
and during batches. Structured concurrency only (anyio task groups).

A target is launched only while the run is RUNNING, checked when it gets its concurrency slot
and again when it gets one of the few PUT slots of its subscription
(``EngineSettings.puts_in_flight`` per subscription, as ARM's write bucket is per subscription),
right before the intent is journaled and the PUT is sent: once the run stops or the error budget
is exhausted, only the PUTs already waiting for a write token can still go out. Targets the
rollout never launched are reported ``NotStarted`` with why.

Every per-target state change goes through the run's ``Tally`` (``fleet.engine.tally``):
LAUNCHING, LAUNCHED, CANCELING from the executor, FINAL from here — which journals it and
tells the ``RunObserver``; batch and gate events go to the observer from here too, and to the
``Recorder`` (journaled as they happen: a resumed run and ``fleet show`` of a run in flight or
interrupted know the batches started and the gate verdicts so far).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
import structlog

from fleet.engine.execute import Executor, Interrupt
from fleet.engine.gate_runs import GateRuns
from fleet.engine.outputs import RunOutputs
from fleet.engine.polling import expectations
from fleet.engine.reboot import PendingReboot
from fleet.engine.settings import AnyioClock, EngineSettings, RunContext
from fleet.engine.tally import Tally
from fleet.model import (
    ArmCounters,
    Batch,
    GateRecord,
    RolloutRecord,
    RunPlan,
    Status,
    Target,
    TargetResult,
)
from fleet.ports import Clock, Machines, NullRecorder, Recorder, RunCommands, RunObserver
from fleet.rollout.budget import ErrorBudget
from fleet.rollout.control import Ended, RunControl, Stage
from fleet.rollout.record import rollout_record
from fleet.secrets import Secrets

__all__ = ["AnyioClock", "EngineSettings", "Runner"]

log = structlog.get_logger("fleet.engine")


class Runner:
    def __init__(
        self,
        plan: RunPlan,
        run_commands: RunCommands,
        *,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        observer: RunObserver | None = None,
        arm_counters: Callable[[], ArmCounters] | None = None,
        control: RunControl | None = None,
        recorder: Recorder | None = None,
        outputs: RunOutputs | None = None,
        machines: Machines | None = None,
    ) -> None:
        """``observer``: the run's events; with one, ``progress`` snapshots too. ``outputs``:
        the run's output blobs (its completion watcher runs with the run); ``machines``: how
        VMs are restarted, for a job that reboots."""
        self.plan, self.spec = plan, plan.spec
        self.settings = settings or EngineSettings()
        self.clock = clock or AnyioClock()
        self.observer = observer or RunObserver()
        self._wants_progress = observer is not None
        policy = plan.spec.rollout
        self.control = control or RunControl(cancel_running=policy.cancel_running)
        self.control.subscribe(self._on_control)
        self.secrets = Secrets.from_spec(plan.spec)
        self.recorder: Recorder = recorder or NullRecorder()
        context = RunContext(plan.run_id, self.settings, self.clock, self.secrets)
        self.tally = Tally(
            total=len(plan.targets) + len(plan.skipped), recorder=self.recorder,
            observer=self.observer, arm_counters=arm_counters or ArmCounters, clock=self.clock,
        )  # fmt: skip
        self.outputs = outputs
        self.executor = Executor(
            plan.spec, run_commands, context, transition=self.tally.transition,
            recorder=recorder, may_launch=self._may_launch, outputs=outputs,
            machines=machines, may_restart=self._may_restart,
        )  # fmt: skip
        self.executor.planner.launching(len(plan.targets))
        if plan.forecast is not None:  # the job's history: read each target when it is done
            planner, scale = self.executor.planner, self.settings.time_scale
            planner.expect(expectations(plan.forecast, plan.targets, planner.settings, scale))
        self.gates = GateRuns(plan.spec, run_commands, context, sentinels=plan.sentinels)
        self.budget = ErrorBudget.of(policy, len(plan.targets))
        self.gate_records: list[GateRecord] = []
        self._done: dict[str, TargetResult] = {}  # resume: final before this process started
        self._reattach: Mapping[str, bool] = {}  # resume: launched before; value = ambiguous
        self._handles: Mapping[str, str] = {}  # resume: what their launch answered (action)
        self._rebooting: Mapping[str, PendingReboot] = {}  # resume: a reboot under way
        self._count_done = True  # resume: do the results in _done spend the error budget?
        self._judged: frozenset[tuple[int, str]] = frozenset()  # resume: (batch, gate) verdicts
        self._tripped: frozenset[int] = frozenset()  # resume: batches a gate failed after
        self._started_batches: set[int] = set()
        self._stopped: anyio.Event | None = None  # set when launching stops: ends a soak pause
        self._grace: anyio.Event | None = None  # set when a stop starts the grace period

    async def run(
        self,
        *,
        done: Sequence[TargetResult] = (),
        reattach: Mapping[str, bool] | None = None,
        handles: Mapping[str, str] | None = None,
        rebooting: Mapping[str, PendingReboot] | None = None,
        count_done: bool = True,
        gates_before: Sequence[GateRecord] = (),
        started_before: frozenset[int] = frozenset(),
    ) -> list[TargetResult]:
        """Run the plan: its skipped targets are final at once, its batches launch in turn.
        Results come back skipped first, then in batch order.

        Resuming a crashed run: ``done`` are targets of the plan that finished before the
        crash (they spend the error budget again, are not re-recorded); ``reattach`` maps the
        lower-cased ids of targets launched before the crash to whether their PUT's arrival
        is ambiguous (see ``Executor.resume``); ``handles`` maps them to what their launch
        answered, where one was journaled (an action run command's operation); ``rebooting``
        those whose script had finished and whose reboot had begun (``Executor.resume_reboot``).
        ``count_done=False``: the ``done`` results do not spend the error budget (going on past
        a halt the operator has looked at). ``gates_before``: the verdicts given before
        (journaled): a gate judged on a batch is not checked again, nor any gate of a batch one
        of them failed on (the halt the operator went on past). ``started_before``: batches
        launched before."""
        self._done = {r.target.id.lower(): r for r in done}
        self._count_done = count_done
        self._judged = frozenset((g.batch, g.gate) for g in gates_before)
        self._tripped = frozenset(g.batch for g in gates_before if not g.passed)
        self._started_batches |= started_before
        self._reattach, self._handles = reattach or {}, handles or {}
        self._rebooting = rebooting or {}
        self.tally.start()
        self._stopped, self._grace = anyio.Event(), anyio.Event()
        if self.control.stage is not Stage.RUNNING:  # stopped before it started
            self._on_control(self.control)
        for result in self.plan.skipped:
            self.tally.finish(result, record=result.target.id.lower() not in self._done)
        limit = anyio.CapacityLimiter(self.spec.concurrency.resolve(len(self.plan.targets) or 1))
        async with anyio.create_task_group() as tg:
            if self._wants_progress:
                tg.start_soon(self._progress_loop)
            if self.spec.rollout.deadline_s is not None:
                tg.start_soon(self._deadline_timer, self.spec.rollout.deadline_s)
            tg.start_soon(self._grace_timer)
            if self.outputs is not None and self.outputs.watcher is not None:
                tg.start_soon(self.outputs.watcher.run)
            await self._batches(limit)
            tg.cancel_scope.cancel()
        if self._wants_progress:
            self.observer.progress(self.tally.snapshot())
        everything = (*(r.target for r in self.plan.skipped), *self.plan.targets)
        return [self.tally.result(t) for t in everything]

    async def _batches(self, limit: anyio.CapacityLimiter) -> None:
        batches = self.plan.rollout.batches
        for batch in batches:
            if not self.control.launching_allowed:
                break
            self._started_batches.add(batch.index)
            log.info(
                "batch.started", batch=batch.index, group=batch.group, targets=len(batch.targets)
            )
            self.recorder.batch_started(batch, self.plan.rollout.order.value)
            self.observer.batch_started(batch)
            async with anyio.create_task_group() as tg:
                for target in batch.targets:
                    tg.start_soon(self._guarded, target, limit)
            log.info("batch.finished", batch=batch.index)
            self.recorder.batch_finished(batch, self._budget_detail())
            self.observer.batch_finished(batch)
            if batch is not batches[-1] and not self._gated_before(batch):
                await self._soak()
                await self._check_gates(batch, resuming=self._finished_before(batch))
        reason = self.control.not_started_reason
        for target in self.plan.targets:
            if not self.tally.has(target):
                self.tally.finish(TargetResult(target, Status.NOT_STARTED, reason=reason))

    def _finished_before(self, batch: Batch) -> bool:
        """Resume: every target of ``batch`` finished before the crash, so its gates may have
        been sent already (the crash came during the soak or a gate check)."""
        return all(t.id.lower() in self._done for t in batch.targets)

    def _gated_before(self, batch: Batch) -> bool:
        """Resume: a later batch was launched before the crash, so ``batch``'s gates passed;
        or its gates gave their verdict in an earlier life of the run (``gates_before``)."""
        gates = self.spec.rollout.gates
        if batch.index in self._tripped or (
            gates and all((batch.index, g.name) in self._judged for g in gates)
        ):
            return True
        later = (b for b in self.plan.rollout.batches if b.index > batch.index)
        return any(
            t.id.lower() in self._done or t.id.lower() in self._reattach
            for b in later
            for t in b.targets
        )

    async def _guarded(self, target: Target, limit: anyio.CapacityLimiter) -> None:
        key = target.id.lower()
        if key in self._done:
            if self._count_done:
                self.budget.record(self._done[key])
            self.tally.finish(self._done[key], record=False)
            return
        async with limit:
            if key in self._rebooting:  # rebooting before the crash: never restart it twice
                work = self.executor.resume_reboot(target, self._rebooting[key])
                result = await self._attempt(target, work)
            elif key in self._reattach:  # in flight before the crash: follow it, whatever stage
                resumed = self.executor.resume(target, self._reattach[key], self._handles.get(key))
                result = await self._attempt(target, resumed)
            elif not self.control.launching_allowed:
                reason = self.control.not_started_reason
                self.tally.finish(TargetResult(target, Status.NOT_STARTED, reason=reason))
                return
            else:
                result = await self._attempt(target, self.executor.execute(target))
        self.budget.record(result)
        self.tally.finish(result)
        if self.budget.exhausted and self.control.launching_allowed:
            log.warning("run.halted", reason="error budget", detail=self.budget.describe())
            self.control.halt(Ended.ERROR_BUDGET, self.budget.describe())

    def _may_launch(self) -> str | None:
        """None while the run may launch; else why not (the NotStarted reason)."""
        return None if self.control.launching_allowed else self.control.not_started_reason

    def _may_restart(self) -> str | None:
        """None while a finished script's reboot may still be requested; else why not."""
        if self.control.restarts_allowed:
            return None
        return f"the run stopped ({self.control.not_started_reason})"

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

    async def _check_gates(self, batch: Batch, *, resuming: bool = False) -> None:
        """``resuming``: the gates may have been sent before a crash (see ``GateRuns.check``)."""
        batch_results = [self.tally.result(t) for t in batch.targets]
        for gate in self.spec.rollout.gates:
            if not self.control.launching_allowed:
                return
            if (batch.index, gate.name) in self._judged:  # passed before a crash
                continue
            record = await self.gates.check(gate, batch.index, batch_results, resuming=resuming)
            self.gate_records.append(record)
            await self.recorder.gate(record)  # durable before it is acted on
            self.observer.gate_finished(record)
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
            log.warning("run.grace_expired", running=self.tally.running)
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

    def _budget_detail(self) -> dict[str, Any]:
        """The error budget now, as the report's ``error_budget`` section has it."""
        return {
            "max_errors": self.budget.limit,
            "failures": self.budget.failures,
            "platform_failures": self.budget.platform,
            "count_platform_failures": self.budget.count_platform,
        }

    def record(self) -> RolloutRecord:
        """How the rollout went, for the report."""
        return rollout_record(
            self.plan.rollout, self._started_batches, self.gate_records, self.budget
        )

    async def _progress_loop(self) -> None:
        while True:
            self.observer.progress(self.tally.snapshot())
            await anyio.sleep(self.settings.progress_interval_s)

"""The rollout a run workflow drives: a ``RunPlan`` batch by batch under the job's policy — the
error budget, soak pauses, health gates, the deadline, stop and cancel — with the same pure rules
as the local engine (``fleet.rollout``: ``ErrorBudget``, ``RunControl``, gate targets and
verdicts, the rollout record; the engine's ``Tally`` for progress counts). What touches Azure is
``Work``: activities on the workers in the workflow, a fake in unit tests.

Deterministic by construction: plain asyncio on the loop it is given (Temporal's workflow loop:
``asyncio.sleep`` is a durable timer, ``loop.time()`` the workflow's clock), no I/O, no wall
clock, no randomness; every wait is on a task or an event this module owns.

One pass (a batch, or a gate after one) keeps at most ``limit`` targets in flight (the job's
``max_concurrency``). Targets go out in chunks of one subscription (``LAUNCH_CHUNK``), at most
``launches_in_flight`` chunks per subscription at once; whatever Azure accepted is watched in
chunks until it ends. A watch returns early when a result spends the error budget (so a halt
comes as soon as it does locally) or, while targets wait for a slot, once half its targets
ended. Launching stops when the run stops: targets not sent yet are ``NotStarted``; only the
chunks already on their way still send their PUTs (32 PUTs per subscription against Azure, as
locally; about two seconds of the write queue's rate against a faster emulator).
A cancel (or a stop's grace running out) turns every watch into an interrupt: the command is
read once more and deleted (cancel) or left running (grace).

With ``parts`` (a run workflow's child workflows) a pass does none of that itself: each
subscription's targets go to a part (a ``Rollout`` there runs them with ``part``), which gets a
share of ``limit`` (``_shares``) and what is left of the error budget; the run records their
results as they come back, halts on its own budget, and passes every change of its control on.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from fleet.engine.execute import Interrupt, TargetState
from fleet.engine.gate_runs import gate_spec
from fleet.engine.hygiene import cleanup_wanted
from fleet.engine.invocation import run_command_name
from fleet.engine.tally import Tally
from fleet.model import (
    ArmCounters,
    Batch,
    Deleted,
    DeleteReason,
    GateRecord,
    HealthGate,
    Progress,
    RunPlan,
    RunReport,
    ScriptIdentity,
    Status,
    Target,
    TargetResult,
)
from fleet.ports import NullRecorder, RunObserver
from fleet.rollout.budget import ErrorBudget
from fleet.rollout.control import Ended, RunControl, Stage
from fleet.rollout.gates import evaluate, gate_targets
from fleet.rollout.record import rollout_record
from fleet.temporal.codec import arm_sum
from fleet.temporal.names import LAUNCH_CHUNK, WATCH_CHUNK, launches_in_flight


@dataclass(frozen=True)
class Unit:
    """What a pass runs: the job (``gate`` None), or health gate ``gate`` after ``batch``."""

    gate: str | None = None
    batch: int = 0

    def to_json(self) -> dict[str, object] | None:
        return None if self.gate is None else {"gate": self.gate, "batch": self.batch}

    @classmethod
    def from_json(cls, raw: dict[str, object] | None) -> Unit:
        return JOB if raw is None else cls(str(raw["gate"]), int(str(raw["batch"])))


JOB = Unit()


@dataclass(frozen=True)
class InFlight:
    """A target whose run command Azure accepted: when (the loop's clock), the PUTs it took,
    what was deleted to make room for it, the reads spent on it so far."""

    target: Target
    launched_at: float
    attempts: int = 0
    deleted: tuple[Deleted, ...] = ()
    polls: int = 0


@dataclass(frozen=True)
class Launch:
    """One target's launch: ``flight`` when Azure accepted it, else its final ``result``."""

    target: Target
    flight: InFlight | None = None
    result: TargetResult | None = None


class Work(Protocol):
    """What a rollout asks of the workers; each call may take long and returns ARM counters."""

    async def launch(
        self, unit: Unit, targets: Sequence[Target]
    ) -> tuple[list[Launch], ArmCounters]: ...

    async def watch(
        self, unit: Unit, flights: Sequence[InFlight], *, until: int, budget: bool
    ) -> tuple[list[TargetResult], ArmCounters]:
        """Final results of at least one of ``flights`` (``until`` of them normally; fewer when
        one spends the error budget and ``budget``, or a long watch gives back what it has)."""
        ...

    async def interrupt(
        self, unit: Unit, flights: Sequence[InFlight], action: Interrupt
    ) -> tuple[list[TargetResult], ArmCounters]: ...

    async def tidy(
        self, unit: Unit, results: Sequence[TargetResult]
    ) -> tuple[list[TargetResult], ArmCounters]: ...


class Parts(Protocol):
    """Where a pass's targets of one subscription run when a rollout hands them off: a child
    workflow per subscription in a run workflow (``fleet.temporal.workflows``)."""

    async def run(
        self, unit: Unit, targets: Sequence[Target], limit: int, spend: int | None
    ) -> tuple[list[TargetResult], ArmCounters, set[str]]:
        """The final results of ``targets`` (one subscription's), at most ``limit`` in
        flight, and the (lower-cased) ids of those Azure accepted; ``spend``: the failures it
        may spend before it stops launching (None: no budget)."""
        ...

    def tell(self, control: RunControl) -> None:
        """The run's control changed (a halt, stop or cancel): pass it on to the parts running."""
        ...


class _LoopClock:
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Phase(StrEnum):
    BATCH = "batch"
    SOAK = "soak"
    GATE = "gate"
    DONE = "done"


class _Waiting:
    """A pass's targets not sent yet: per subscription, in plan order."""

    def __init__(self, targets: Sequence[Target]) -> None:
        self._by_sub: dict[str, deque[Target]] = {}
        for target in targets:
            self._by_sub.setdefault(target.subscription.lower(), deque()).append(target)
        self._count = len(targets)

    def __bool__(self) -> bool:
        return self._count > 0

    def take(self, sub: str, most: int) -> list[Target]:
        queue = self._by_sub[sub]
        taken = [queue.popleft() for _ in range(min(most, len(queue)))]
        self._count -= len(taken)
        return taken

    def subscriptions(self) -> list[str]:
        """The subscriptions with targets waiting, the one whose next target comes first in
        the plan first — round robin as chunks are taken."""
        return [sub for sub, queue in self._by_sub.items() if queue]

    def rotate(self, sub: str) -> None:
        """``sub`` just sent a chunk: its next one waits behind the other subscriptions'."""
        self._by_sub[sub] = self._by_sub.pop(sub)

    def drain(self) -> list[Target]:
        rest = [t for queue in self._by_sub.values() for t in queue]
        self._by_sub.clear()
        self._count = 0
        return rest


@dataclass
class _Pass:
    """One pass's state: targets waiting, in flight, and their results."""

    unit: Unit
    limit: int
    pending: _Waiting
    results: dict[str, TargetResult] = field(default_factory=dict)
    in_flight: int = 0  # launching or launched, not final
    launching: dict[str, int] = field(default_factory=dict)  # chunks on their way, per sub
    tidying: int = 0

    @property
    def finished(self) -> bool:
        return not self.pending and self.in_flight == 0 and self.tidying == 0


class Rollout:
    def __init__(
        self,
        plan: RunPlan,
        work: Work,
        *,
        now: Callable[[], datetime],
        time_scale: float = 1.0,
        control: RunControl | None = None,
        script: tuple[ScriptIdentity, ...] = (),
        simulated: bool = False,
        parts: Parts | None = None,
    ) -> None:
        """``script``, ``simulated``: what the report says was sent, and to what (the
        workflow's view of the job has no script). ``parts``: run each pass's targets of a
        subscription there (``part``), deciding only between passes and on what they end."""
        self.plan, self.spec, self.work, self.now = plan, plan.spec, work, now
        self.parts = parts
        self.script, self.simulated = script, simulated
        policy = plan.spec.rollout
        self.time_scale = max(time_scale, 1e-9)
        self.chunks_in_flight = launches_in_flight(self.time_scale)
        self.control = control or RunControl(cancel_running=policy.cancel_running)
        self.control.subscribe(self._on_control)
        self.budget = ErrorBudget.of(policy, len(plan.targets))
        self.arm = ArmCounters()
        self.tally = Tally(
            total=len(plan.targets) + len(plan.skipped), recorder=NullRecorder(),
            observer=RunObserver(), arm_counters=lambda: self.arm, clock=_LoopClock(),
        )  # fmt: skip
        self.results: dict[str, TargetResult] = {}  # the job's final results, by lower-cased id
        self.gate_records: list[GateRecord] = []
        self.started_batches: set[int] = set()
        self.phase, self.batch = Phase.BATCH, 0
        self.interrupted: Interrupt | None = None
        self._changed = asyncio.Event()  # something a pass waits on happened
        self._stopped = asyncio.Event()  # launching stopped: ends a soak pause
        self._grace = asyncio.Event()  # a stop with a grace period began
        self._interrupting = asyncio.Event()  # watches turn into interrupts
        self._passes: list[_Pass] = []
        self._accepted: set[str] = set()  # the job's targets Azure accepted

    def progress(self) -> Progress:
        return self.tally.snapshot()

    def launched(self) -> set[str]:
        """The (lower-cased) ids of the job's targets Azure accepted."""
        return set(self._accepted)

    async def run(self) -> RunReport:
        """Run the plan to its end and say how it went."""
        started = self.now()
        self.tally.start()
        if self.control.stage is not Stage.RUNNING:  # stopped before it started
            self._on_control(self.control)
        for skipped in self.plan.skipped:
            self.results[skipped.target.id.lower()] = skipped
            self.tally.transition(skipped.target, TargetState.FINAL, skipped)
        async with asyncio.TaskGroup() as tg:
            timers = [tg.create_task(self._grace_timer())]
            if self.spec.rollout.deadline_s is not None:
                timers.append(tg.create_task(self._deadline_timer(self.spec.rollout.deadline_s)))
            await self._batches()
            for timer in timers:
                timer.cancel()
        self.phase = Phase.DONE
        return self._report(started)

    async def _batches(self) -> None:
        batches = self.plan.rollout.batches
        limit = self.spec.concurrency.resolve(len(self.plan.targets) or 1)
        for batch in batches:
            if not self.control.launching_allowed:
                break
            self.phase, self.batch = Phase.BATCH, batch.index
            self.started_batches.add(batch.index)
            await self._pass(JOB, list(batch.targets), limit)
            if batch is not batches[-1]:
                await self._soak()
                await self._gates(batch)
        reason = self.control.not_started_reason
        for target in self.plan.targets:
            if target.id.lower() not in self.results:
                self._job_final(TargetResult(target, Status.NOT_STARTED, reason=reason))

    async def _soak(self) -> None:
        pause = self.spec.rollout.pause_s / self.time_scale
        if pause > 0 and self.control.launching_allowed:
            self.phase = Phase.SOAK
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), pause)

    async def _gates(self, batch: Batch) -> None:
        batch_results = [self.results[t.id.lower()] for t in batch.targets]
        for gate in self.spec.rollout.gates:
            if not self.control.launching_allowed:
                return
            self.phase = Phase.GATE
            record = await self._gate(gate, batch.index, batch_results)
            self.gate_records.append(record)
            if not record.passed and self.control.launching_allowed:
                detail = f"gate {gate.name!r} failed after batch {batch.index}: {record.reason}"
                self.control.halt(Ended.GATE, detail)

    async def _gate(
        self, gate: HealthGate, batch: int, batch_results: Sequence[TargetResult]
    ) -> GateRecord:
        targets = gate_targets(gate, batch_results, self.plan.sentinels)
        limit = self.spec.concurrency.resolve(len(targets) or 1)
        done = await self._pass(Unit(gate.name, batch), targets, limit)
        passed, reason = evaluate(gate, [done[t.id.lower()] for t in targets])
        if self.interrupted is not None and not passed:
            reason = f"interrupted: {reason}"
        return GateRecord(gate.name, batch, passed, reason, tuple(t.id for t in targets))

    async def part(self, unit: Unit, targets: list[Target], limit: int) -> list[TargetResult]:
        """One subscription's share of a pass (in a child workflow): ``targets`` of ``unit``
        to their final results, under this rollout's control and budget (``launched`` says
        which Azure accepted)."""
        self.tally.start()
        if self.control.stage is not Stage.RUNNING:
            self._on_control(self.control)
        async with asyncio.TaskGroup() as tg:
            timer = tg.create_task(self._grace_timer())
            done = await self._pass(unit, targets, limit)
            timer.cancel()
        return [done[t.id.lower()] for t in targets]

    async def _in_parts(
        self, parts: Parts, unit: Unit, targets: list[Target], limit: int
    ) -> dict[str, TargetResult]:
        """A pass handed off per subscription: each gets its share of ``limit`` and what is
        left of the error budget; a halt here reaches them through ``Parts.tell``."""
        state = _Pass(unit, limit, _Waiting(()))
        by_sub: dict[str, list[Target]] = {}
        for target in targets:
            by_sub.setdefault(target.subscription.lower(), []).append(target)
        shares = _shares(limit, [len(t) for t in by_sub.values()])
        slots = asyncio.Semaphore(max(1, min(limit, len(by_sub))))
        async with asyncio.TaskGroup() as tg:
            for sub_targets, share in zip(by_sub.values(), shares, strict=True):
                tg.create_task(self._part(parts, state, sub_targets, share, slots))
        return state.results

    async def _part(
        self,
        parts: Parts,
        state: _Pass,
        targets: list[Target],
        limit: int,
        slots: asyncio.Semaphore,
    ) -> None:
        async with slots:
            await self._part_now(parts, state, targets, limit)

    async def _part_now(
        self, parts: Parts, state: _Pass, targets: list[Target], limit: int
    ) -> None:
        if state.unit is JOB and not self.control.launching_allowed:
            reason = self.control.not_started_reason
            for target in targets:
                self._final(state, TargetResult(target, Status.NOT_STARTED, reason=reason))
            return
        spend = None
        if state.unit is JOB and self.budget.limit is not None:
            spend = self.budget.limit - self.budget.spent
        try:
            results, arm, launched = await parts.run(state.unit, targets, limit, spend)
        except Exception as exc:  # the part gave up: what it sent is unknown
            why = _why(exc)
            reason = f"the subscription's part failed ({why}); run commands may have been sent"
            results, arm, launched = [_error(t, reason) for t in targets], ArmCounters(), set()
        self.arm = arm_sum(self.arm, arm)
        for result in results:
            if state.unit is JOB and result.target.id.lower() in launched:
                self.tally.transition(result.target, TargetState.LAUNCHED)
            self._final(state, result)

    async def _pass(self, unit: Unit, targets: list[Target], limit: int) -> dict[str, TargetResult]:
        """Run ``targets`` of ``unit`` with at most ``limit`` in flight; their final results."""
        if self.parts is not None:
            return await self._in_parts(self.parts, unit, targets, limit)
        state = _Pass(unit, limit, _Waiting(targets))
        self._passes.append(state)
        try:
            async with asyncio.TaskGroup() as tg:
                while True:
                    self._dispatch(state, tg)
                    if state.finished:
                        break
                    await self._changed.wait()
                    self._changed.clear()
        finally:
            self._passes.remove(state)
        return state.results

    def _dispatch(self, state: _Pass, tg: asyncio.TaskGroup) -> None:
        """Send chunks while there are free slots; once the run stops launching, what waits is
        NotStarted (a gate already begun checks its targets all the same, as locally)."""
        if not self.control.launching_allowed and state.unit is JOB:
            reason = self.control.not_started_reason
            for target in state.pending.drain():
                self._final(state, TargetResult(target, Status.NOT_STARTED, reason=reason))
            return
        while state.pending and state.in_flight < state.limit:
            chunk = self._next_chunk(state)
            if not chunk:
                return
            sub = chunk[0].subscription.lower()
            state.launching[sub] = state.launching.get(sub, 0) + 1
            state.in_flight += len(chunk)
            tg.create_task(self._launch(state, chunk, tg))

    def _next_chunk(self, state: _Pass) -> list[Target]:
        """The next targets to send: from the first subscription (round robin) that may send a
        chunk now, as many of its waiting targets as fit the free slots."""
        room = min(LAUNCH_CHUNK, state.limit - state.in_flight)
        for sub in state.pending.subscriptions():
            if state.launching.get(sub, 0) < self.chunks_in_flight:
                state.pending.rotate(sub)
                return state.pending.take(sub, room)
        return []

    async def _launch(self, state: _Pass, chunk: list[Target], tg: asyncio.TaskGroup) -> None:
        sub = chunk[0].subscription.lower()
        try:
            launches, arm = await self.work.launch(state.unit, chunk)
        except Exception as exc:  # the launch gave up: the PUTs' fate is unknown
            reason = f"the launch failed ({_why(exc)}); the run command may have been sent"
            launches, arm = [Launch(t, result=_error(t, reason)) for t in chunk], ArmCounters()
        self.arm = arm_sum(self.arm, arm)
        state.launching[sub] -= 1
        flights = []
        for launch in launches:
            if launch.flight is not None:
                flights.append(launch.flight)
                if state.unit is JOB:
                    self.tally.transition(launch.target, TargetState.LAUNCHED)
                    self._accepted.add(launch.target.id.lower())
            elif launch.result is not None:
                self._final(state, launch.result, taken=True)
        for start in range(0, len(flights), WATCH_CHUNK):
            tg.create_task(self._follow(state, flights[start : start + WATCH_CHUNK], tg))
        self._changed.set()

    async def _follow(self, state: _Pass, flights: list[InFlight], tg: asyncio.TaskGroup) -> None:
        """Watch ``flights`` until every one of them is final (or interrupt them)."""
        budget = state.unit is JOB and self.budget.limit is not None
        while flights:
            if self.interrupted is not None:
                results, arm = await self._call_interrupt(state, flights, self.interrupted)
            else:
                until = len(flights)
                if state.pending and self.control.launching_allowed:  # targets wait for slots
                    until = math.ceil(len(flights) / 2)
                answer = await self._watch_unless_interrupted(state, flights, until, budget)
                if answer is None:
                    continue  # interrupted: next round interrupts them
                results, arm = answer
            self.arm = arm_sum(self.arm, arm)
            by_id = {f.target.id.lower(): f for f in flights}
            for result in results:
                flight = by_id.pop(result.target.id.lower(), None)
                if flight is not None:
                    self._ended(state, flight, result, tg)
            flights = list(by_id.values())

    async def _watch_unless_interrupted(
        self, state: _Pass, flights: list[InFlight], until: int, budget: bool
    ) -> tuple[list[TargetResult], ArmCounters] | None:
        """A watch, or None when an interrupt came first (the watch is then cancelled)."""
        watch = asyncio.ensure_future(self._call_watch(state, flights, until=until, budget=budget))
        interrupt = asyncio.ensure_future(self._interrupting.wait())
        await asyncio.wait([watch, interrupt], return_when=asyncio.FIRST_COMPLETED)
        interrupt.cancel()
        if watch.done():
            return watch.result()
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
        return None

    async def _call_watch(
        self, state: _Pass, flights: list[InFlight], *, until: int, budget: bool
    ) -> tuple[list[TargetResult], ArmCounters]:
        try:
            return await self.work.watch(state.unit, flights, until=until, budget=budget)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reads kept failing: the outcome is unknown
            reason = f"could not read the result ({_why(exc)})"
            return [_error(f.target, reason) for f in flights], ArmCounters()

    async def _call_interrupt(
        self, state: _Pass, flights: list[InFlight], action: Interrupt
    ) -> tuple[list[TargetResult], ArmCounters]:
        try:
            return await self.work.interrupt(state.unit, flights, action)
        except Exception as exc:
            reason = f"could not {action.value} the in-flight run command ({_why(exc)})"
            return [_error(f.target, reason) for f in flights], ArmCounters()

    def _ended(
        self, state: _Pass, flight: InFlight, result: TargetResult, tg: asyncio.TaskGroup
    ) -> None:
        """A watched target ended: its result, with what its launch took, and the cleanup."""
        result = replace(
            result, attempts=flight.attempts, polls=flight.polls + result.polls,
            deleted=(*flight.deleted, *result.deleted),
        )  # fmt: skip
        self._final(state, result, taken=True)
        if cleanup_wanted(self.spec.rollout.cleanup, result):
            state.tidying += 1
            tg.create_task(self._tidy(state, result))

    async def _tidy(self, state: _Pass, result: TargetResult) -> None:
        try:
            tidied, arm = await self.work.tidy(state.unit, [result])
            self.arm = arm_sum(self.arm, arm)
            for done in tidied:
                state.results[done.target.id.lower()] = done
                if state.unit is JOB:
                    self.results[done.target.id.lower()] = done
        except Exception as exc:  # the result stands; its run command stays on the VM
            why = f"the cleanup gave up: {_why(exc)}"
            gone = Deleted(self._run_command(state.unit), DeleteReason.CLEANUP, error=why)
            done = replace(result, deleted=(*result.deleted, gone))
            state.results[done.target.id.lower()] = done
            if state.unit is JOB:
                self.results[done.target.id.lower()] = done
        finally:
            state.tidying -= 1
            self._changed.set()

    def _run_command(self, unit: Unit) -> str:
        gate = next((g for g in self.spec.rollout.gates if g.name == unit.gate), None)
        spec = self.spec if gate is None else gate_spec(self.spec, gate)
        return run_command_name(spec.name)

    def _final(self, state: _Pass, result: TargetResult, *, taken: bool = False) -> None:
        """``result`` is final; ``taken``: the target held a slot (it was sent in a chunk)."""
        state.results[result.target.id.lower()] = result
        state.in_flight -= taken
        if state.unit is JOB:
            self._job_final(result)
        self._changed.set()

    def _job_final(self, result: TargetResult) -> None:
        self.results[result.target.id.lower()] = result
        self.tally.transition(result.target, TargetState.FINAL, result)
        self.budget.record(result)
        if self.budget.exhausted and self.control.launching_allowed:
            self.control.halt(Ended.ERROR_BUDGET, self.budget.describe())

    async def _deadline_timer(self, deadline_s: int) -> None:
        await asyncio.sleep(deadline_s / self.time_scale)
        self.control.stop(Ended.DEADLINE, f"the run's deadline ({deadline_s} s) passed")

    async def _grace_timer(self) -> None:
        await self._grace.wait()
        await asyncio.sleep(self.spec.rollout.cancel_grace_s / self.time_scale)
        if self.control.stage is Stage.DRAINING:
            self._interrupt(Interrupt.ABANDON)

    def _interrupt(self, action: Interrupt) -> None:
        if self.interrupted is not Interrupt.DELETE:
            self.interrupted = action
            self._interrupting.set()

    def _on_control(self, control: RunControl) -> None:
        if self.parts is not None:
            self.parts.tell(control)
        if control.stage is not Stage.RUNNING:
            self._stopped.set()
            self._changed.set()
        if control.stage is Stage.DRAINING and control.bounded:
            self._grace.set()
        if control.stage is Stage.CANCELING:
            self._interrupt(Interrupt.DELETE)

    def _report(self, started: datetime) -> RunReport:
        order = {t.id.lower(): i for i, t in enumerate(self.plan.selected)}
        results = sorted(
            self.results.values(), key=lambda r: order.get(r.target.id.lower(), len(order))
        )
        return RunReport(
            run_id=self.plan.run_id, job=self.spec.name, started_at=started,
            finished_at=self.now(), results=tuple(results), arm=self.arm,
            ended=self.control.ended.value, ended_detail=self.control.detail,
            rollout=rollout_record(
                self.plan.rollout, self.started_batches, self.gate_records, self.budget
            ),
            expect=self.spec.expect, cleanup=self.spec.rollout.cleanup.value,
            reboot=self.spec.rollout.reboot.mode.value, script=self.script,
            simulated=self.simulated,
        )  # fmt: skip


def _shares(limit: int, sizes: Sequence[int]) -> list[int]:
    """``limit`` slots shared by parts of ``sizes`` targets: one each, the rest in proportion
    to what each has beyond one (largest remainder), never more in all than ``limit``; with no
    more slots than parts, one each and only ``limit`` parts at once (``_in_parts``)."""
    if limit <= len(sizes):
        return [1] * len(sizes)
    rest, beyond = limit - len(sizes), [max(0, size - 1) for size in sizes]
    exact = [rest * b / (sum(beyond) or 1) for b in beyond]
    shares = [math.floor(e) for e in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[: rest - sum(shares)]:
        shares[i] += 1
    return [min(1 + share, size) for share, size in zip(shares, sizes, strict=True)]


def _error(target: Target, reason: str) -> TargetResult:
    return TargetResult(target, Status.ERROR, reason=reason)


def _why(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    return f"{type(cause).__name__}: {cause}"

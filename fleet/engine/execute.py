"""One target's life: launch (``fleet.engine.launch``: PUT or action POST, sent once) →
budgeted polls (reads of the run command, or of the action run command's operation) → final
outcome, and what happens when the run stops under it (delete the run command, or leave it
running).

The same executor drives managed and action run commands (``Mode``) through the
``RunCommands`` port; where they differ the port says so: an action launch answers a
``Launched.handle`` (its operation) that later reads use instead of the name, a busy VM answers
``CallError.busy`` (waited out here, outside the PUT slot), and an action command cannot be
deleted (its ``delete`` refuses: a cancel reports ``Error``, the command left running).

Interrupting: only the *watch* (polling) is ever cancelled, never a PUT in flight (its fate
would become unknown). ``interrupt(DELETE)`` reads each in-flight command once more and deletes
it unless it already finished (reported ``Canceled``); ``interrupt(ABANDON)`` (a stop's grace
period ran out) reads it once more and stops watching: still running is reported ``Error``
with a reason that says the command was left running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from enum import StrEnum

import anyio
import structlog

from fleet.engine.invocation import invocation_for
from fleet.engine.launch import (
    NEVER_ARRIVED,
    UNKNOWN_FATE,
    BusyWait,
    Launch,
    Launcher,
    busy_refusal,
)
from fleet.engine.outcome import overdue_result, result_from_view, status_for_put_error
from fleet.engine.polling import PollPlanner
from fleet.engine.settings import RunContext
from fleet.model import CallError, Invocation, JobSpec, RunView, Status, Target, TargetResult
from fleet.ports import NullRecorder, Recorder, RunCommands

log = structlog.get_logger("fleet.engine")
_EPSILON = 1e-3  # of min_gap: a wait this short is due now (float noise must not spin loops)


class Interrupt(StrEnum):
    DELETE = "delete"  # second stage of a cancel: delete in-flight run commands
    ABANDON = "abandon"  # a stop's grace period ran out: stop watching, leave them running


class TargetState(StrEnum):
    """Per-target transitions reported through the ``transition`` hook (a journal's seam)."""

    LAUNCHING = "launching"  # about to send the PUT
    LAUNCHED = "launched"  # Azure accepted the run command
    CANCELING = "canceling"  # about to DELETE the in-flight run command
    FINAL = "final"  # the result is known (reported by the runner, not here)


Transition = Callable[[Target, TargetState, "TargetResult | None"], None]


def _no_transition(target: Target, state: TargetState, result: TargetResult | None) -> None:
    return None


class Executor:
    """Runs one job's script on targets, one ``execute`` call per target."""

    def __init__(
        self,
        spec: JobSpec,
        run_commands: RunCommands,
        context: RunContext,
        *,
        transition: Transition = _no_transition,
        recorder: Recorder | None = None,
        may_launch: Callable[[], str | None] | None = None,
    ) -> None:
        self.spec, self.run_commands, self.run_id = spec, run_commands, context.run_id
        settings, self.secrets = context.settings, context.secrets
        self.recorder: Recorder = recorder or NullRecorder()
        # None = go; a reason = the run stopped launching (checked once a PUT slot is free)
        self.may_launch = may_launch or (lambda: None)
        self._put_slots: anyio.CapacityLimiter | None = None
        self.settings, self.clock, self.transition = settings, context.clock, transition
        self.planner = PollPlanner(settings.poll.scaled(settings.time_scale))
        self.launcher = Launcher(run_commands, self.recorder, settings, context.clock)
        self._watching: dict[str, anyio.CancelScope] = {}
        self.interrupted: Interrupt | None = None

    def interrupt(self, action: Interrupt) -> None:
        """Stop watching every in-flight target and ``action`` it (DELETE wins over ABANDON)."""
        if self.interrupted is Interrupt.DELETE:
            return
        self.interrupted = action
        for scope in list(self._watching.values()):
            scope.cancel()

    async def execute(self, target: Target, *, unsure: bool = False) -> TargetResult:
        """Launch ``target`` and watch it to its end. ``unsure``: an earlier send's fate was
        unknown (Azure just said it did not arrive): a later send is checked again first."""
        invocation = invocation_for(self.spec, target, self.run_id)
        if invocation is None:
            reason = f"the job has no script for OS {target.os or 'unknown'}"
            return TargetResult(target, Status.SKIPPED, reason=reason)
        started = datetime.now(UTC)
        launch = await self._launch_when_free(target, invocation, unsure)
        if isinstance(launch, TargetResult):  # the run stopped launching first
            return launch
        launched_at = self.clock.now()  # after the PUT: time spent throttled is not run time
        if launch.error is not None:
            status, reason = status_for_put_error(launch.error)
            reason = self._redact(reason)
            log.info("target.refused", target=target.id, status=status.value, reason=reason)
            return TargetResult(
                target, status, reason=reason, attempts=launch.attempts,
                started_at=started, ended_at=datetime.now(UTC),
            )  # fmt: skip
        self.transition(target, TargetState.LAUNCHED, None)
        locator = launch.handle or invocation.run_command
        result = await self._watch_or_interrupt(target, invocation, launched_at, locator)
        return replace(result, attempts=launch.attempts)

    async def _launch_when_free(
        self, target: Target, inv: Invocation, doubt: bool
    ) -> Launch | TargetResult:
        """Send under a PUT slot: few wait in the throttle queue at a time, and the run's stage
        is checked when one may go (a stop or an exhausted error budget holds back every later
        PUT). A busy VM is waited for outside the slot, then sent to again, within the
        script's timeout."""
        if self._put_slots is None:
            self._put_slots = anyio.CapacityLimiter(self.settings.puts_in_flight)
        # ``doubt``: Azure was just asked, so not again before the first send; before any later
        busy, attempts, unsure = BusyWait(float(inv.timeout_s)), 0, False
        while True:
            async with self._put_slots:
                stopped = self.may_launch()
                if stopped is not None:
                    return TargetResult(
                        target, Status.NOT_STARTED, reason=stopped, attempts=attempts
                    )
                if not attempts:
                    self.transition(target, TargetState.LAUNCHING, None)
                launch = await self.launcher.send(target, inv, unsure=unsure)
            attempts, unsure = attempts + launch.attempts, launch.unsure or doubt
            launch = replace(launch, attempts=attempts)
            if not launch.busy:
                return launch
            wait = busy.next()
            if wait is None:
                assert launch.error is not None
                return replace(launch, busy=False, error=busy_refusal(launch.error, busy.waited_s))
            await self.clock.sleep(self.settings.engine_s(wait))

    async def resume(
        self, target: Target, ambiguous: bool, handle: str | None = None
    ) -> TargetResult:
        """Continue a target a crashed run had launched (``ambiguous``: the journal says a PUT
        was about to be sent, not whether Azure got it; ``handle``: what its launch answered,
        if journaled). Never sends again unless Azure proves the earlier send never arrived."""
        invocation = invocation_for(self.spec, target, self.run_id)
        if invocation is None:
            reason = f"the job has no script for OS {target.os or 'unknown'}"
            return TargetResult(target, Status.SKIPPED, reason=reason)
        if ambiguous:
            arrived = await self.launcher.arrived(target, invocation)
            if arrived is None:
                return TargetResult(target, Status.ERROR, reason=UNKNOWN_FATE)
            if not arrived:
                log.info("target.resume_launch", target=target.id)
                self.recorder.put_failed(target, NEVER_ARRIVED, arrived=False)
                return await self.execute(target, unsure=True)
            self.recorder.accepted(target)
        log.info("target.reattached", target=target.id)
        self.transition(target, TargetState.LAUNCHED, None)
        locator = handle or invocation.run_command
        return await self._watch_or_interrupt(target, invocation, self.clock.now(), locator)

    async def _watch_or_interrupt(
        self, target: Target, inv: Invocation, launched_at: float, locator: str
    ) -> TargetResult:
        """Watch until final, or until interrupted; ``locator``: what reads and deletes name
        (the run command, or the handle its launch answered)."""
        key = target.id.lower()
        if self.interrupted is None:
            with anyio.CancelScope() as scope:
                self._watching[key] = scope
                try:
                    return await self._watch(target, inv, launched_at, locator)
                finally:
                    self._watching.pop(key, None)
        return await self._interrupted(target, locator)

    async def _interrupted(self, target: Target, locator: str) -> TargetResult:
        """The watch was interrupted: one last read, then delete or leave the command — each
        bounded in time, so a run that is stopping never hangs on a throttled Azure."""
        limit = self.settings.engine_s(self.settings.interrupt_call_s)
        last: RunView | CallError = CallError(0, "Timeout", "no answer in time")
        with anyio.move_on_after(limit):
            last = await self.run_commands.get(target, locator)
        if isinstance(last, RunView) and last.terminal and not last.owner_unknown:
            return self._from_view(target, last, 1)
        state = last.execution_state if isinstance(last, RunView) else "unreadable"
        if self.interrupted is Interrupt.DELETE:
            self.transition(target, TargetState.CANCELING, None)
            err: CallError | None = CallError(0, "Timeout", "no answer in time")
            with anyio.move_on_after(limit):
                err = await self.run_commands.delete(target, locator)
            if err is None or err.status == 404:
                reason = f"canceled by fleet: the run command was deleted while {state}"
                log.info("target.canceled", target=target.id, state=state)
                return TargetResult(
                    target,
                    Status.CANCELED,
                    reason=reason,
                    polls=1,
                    execution_state=state if state != "unreadable" else None,
                )
            reason = self._redact(f"could not cancel ({err.code}: {err.message}); still {state}")
            return TargetResult(target, Status.ERROR, reason=reason, polls=1)
        reason = (
            f"still {state} when the run stopped; the run command was left running "
            "(not deleted) and its outcome is unknown"
        )
        return TargetResult(target, Status.ERROR, reason=reason, polls=1)

    def _deadline(self, inv: Invocation) -> float:
        """Engine seconds after launch at which a still-running command is overdue."""
        return (inv.timeout_s + self.settings.wedge_grace_s) / self.settings.time_scale

    async def _watch(
        self, target: Target, inv: Invocation, launched_at: float, locator: str
    ) -> TargetResult:
        key, deadline = target.id.lower(), self._deadline(inv)
        polls, seen_running, last_read = 0, 0.0, 0.0
        view: RunView | None = None  # the last instance view read successfully
        try:
            while True:
                await self._wait_for_poll(key, launched_at, seen_running, last_read, deadline)
                last = await self.run_commands.get(target, locator)
                polls += 1
                last_read = self.clock.now() - launched_at
                if isinstance(last, RunView):
                    settled = self._settled(target, inv, last, polls)
                    if settled is not None:
                        if last.terminal:
                            self.planner.observe_completion(key, last_read, seen_running)
                        return settled
                    view, seen_running = last, last_read
                    self.planner.observe_running(key, last_read)
                elif not (last.transient or last.status == 429):
                    status, reason = status_for_put_error(last)
                    reason = f"reading the result: {reason}"
                    return TargetResult(target, status, reason=self._redact(reason), polls=polls)
                if last_read >= deadline - _EPSILON * self.planner.settings.min_gap_s:
                    return self._overdue(target, view, polls)
        finally:
            self.planner.release(key)

    def _settled(
        self, target: Target, inv: Invocation, last: RunView, polls: int
    ) -> TargetResult | None:
        """The target's result if ``last`` settles it (terminal, or not this run's)."""
        if last.run_id not in (None, inv.run_id):
            reason = (
                f"the run command was replaced by another run (FLEET_RUN_ID "
                f"{last.run_id}) while this one watched it; its result is not this run's"
            )
            return TargetResult(target, Status.ERROR, reason=reason, polls=polls)
        if last.terminal and last.owner_unknown:
            reason = (
                "the result Azure shows cannot be told to be this run's (it carries no "
                "exit-code marker of this run); not counted as this run's"
            )
            return TargetResult(target, Status.ERROR, reason=reason, polls=polls)
        if last.terminal:
            return self._from_view(target, last, polls)
        return None

    async def _wait_for_poll(
        self, key: str, launched_at: float, seen_running: float, last_read: float, deadline: float
    ) -> None:
        """Sleep until the planner says ``key`` is due (it re-plans as it learns)."""
        poll = self.planner.settings
        while True:
            due = self.planner.next_poll_at(key, seen_running)
            due = min(max(due, last_read + poll.min_gap_s), deadline)
            wait = due - (self.clock.now() - launched_at)
            if wait <= _EPSILON * poll.min_gap_s:  # float noise must not spin the loop
                return
            await self.clock.sleep(self.planner.sleep_before_asking_again(wait))

    def _overdue(self, target: Target, view: RunView | None, polls: int) -> TargetResult:
        return overdue_result(target, view, polls, self._redact)

    def _from_view(self, target: Target, view: RunView, polls: int) -> TargetResult:
        return result_from_view(target, view, polls, self._redact)

    def _redact(self, text: str) -> str:
        return self.secrets.redact(text)

"""One target's life: launch (``fleet.engine.launch``: the PUT, or the action run command's
POST, sent once) → budgeted polls (``fleet.engine.watch``) → final outcome → the reboot it asks
for, if the job reboots (``fleet.engine.reboot``) → the cleanup policy
(``fleet.engine.housekeeping``), and what happens when the run stops under it (delete the run
command, or leave it running).

The same executor drives managed and action run commands (``Mode``) through the
``RunCommands`` port; where they differ the port says so: an action launch answers a
``Launched.handle`` (its operation) that later reads use instead of the name, a busy VM answers
``CallError.busy`` (waited out here, outside the PUT slot, then sent to again within the
script's timeout), and an action command cannot be deleted (its ``delete`` refuses: a cancel
reports ``Error``, the command left running).

At Azure's per-VM limit of 25 run commands the PUT is refused, so it never ran: fleet frees a
slot by deleting its own finished run commands on that VM (oldest first; never another's, never
one in flight) and sends the PUT again, a few rounds at most and only while the run may still
launch; each PUT has its own durable intent, like any refused PUT. Where nothing of fleet's can
be freed the target is ``LimitReached``, with a reason that says who holds the slots.

Interrupting: only the *watch* (polling) is ever cancelled, never a PUT in flight (its fate
would become unknown). ``interrupt(DELETE)`` reads each in-flight command once more and deletes
it unless it already finished (reported ``Canceled``); ``interrupt(ABANDON)`` (a stop's grace
period ran out) reads it once more and stops watching: still running is reported ``Error``
with a reason that says the command was left running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

import anyio
import structlog

from fleet.engine import storage_watch
from fleet.engine.housekeeping import Housekeeper
from fleet.engine.hygiene import limit_of
from fleet.engine.invocation import invocation_for
from fleet.engine.launch import (
    NEVER_ARRIVED,
    UNKNOWN_FATE,
    BusyWait,
    Launch,
    Launcher,
    busy_refusal,
)
from fleet.engine.outcome import status_for_put_error
from fleet.engine.outputs import SAS_MARGIN_S, RunOutputs
from fleet.engine.polling import PollPlanner
from fleet.engine.reboot import PendingReboot, Rebooter
from fleet.engine.settings import RunContext
from fleet.engine.watch import Watcher, result_from_view
from fleet.model import (
    CallError,
    Deleted,
    Invocation,
    JobSpec,
    RunView,
    Status,
    Target,
    TargetResult,
    run_limit_s,
)
from fleet.ports import Machines, NullRecorder, Recorder, RunCommands

__all__ = ["NEVER_ARRIVED", "Executor", "Interrupt", "TargetState"]

log = structlog.get_logger("fleet.engine")


class Interrupt(StrEnum):
    DELETE = "delete"  # second stage of a cancel: delete in-flight run commands
    ABANDON = "abandon"  # a stop's grace period ran out: stop watching, leave them running


class TargetState(StrEnum):
    """Per-target transitions reported through the ``transition`` hook (a journal's seam)."""

    LAUNCHING = "launching"  # about to send the PUT
    LAUNCHED = "launched"  # Azure accepted the run command
    CANCELING = "canceling"  # about to DELETE the in-flight run command
    REBOOTING = "rebooting"  # its script asked for a reboot: the VM is restarted, waited for
    FINAL = "final"  # the result is known (reported by the runner, not here)


Transition = Callable[[Target, TargetState, "TargetResult | None"], None]


@dataclass(frozen=True)
class Started:
    """A target whose command Azure accepted: what was sent, when (the clock's time), what
    reads and deletes name (``locator``: the run command, or the handle its launch answered),
    the sends it took and what was deleted to free a slot for it."""

    invocation: Invocation
    launched_at: float
    locator: str
    attempts: int = 0
    deleted: tuple[Deleted, ...] = ()


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
        outputs: RunOutputs | None = None,
        machines: Machines | None = None,
        may_restart: Callable[[], str | None] | None = None,
    ) -> None:
        """``outputs``: the run's output blobs (the job's ``output:``), None without;
        ``may_launch``/``may_restart``: None while a PUT / a restart may go, else why not."""
        self.spec, self.run_commands, self.run_id = spec, run_commands, context.run_id
        self.outputs = outputs
        settings, self.secrets = context.settings, context.secrets
        self.recorder: Recorder = recorder or NullRecorder()
        # None = go; a reason = the run stopped launching (checked once a PUT slot is free)
        self.may_launch = may_launch or (lambda: None)
        # PUT slots per subscription: ARM's write bucket is per subscription (and principal), so
        # sends waiting for one subscription's tokens never hold back another's (one shared set
        # of slots ran a 4-subscription fleet one subscription after another)
        self._put_slots: dict[str, anyio.CapacityLimiter] = {}
        self.settings, self.clock, self.transition = settings, context.clock, transition
        self.launcher = Launcher(run_commands, self.recorder, settings, context.clock)
        self.watcher = Watcher(
            run_commands, context, spec.rollout.pending_timeout_s, spec.script.success_exit_codes
        )
        self.keeper = Housekeeper(run_commands, context, spec.rollout.cleanup, self.recorder)
        self.rebooter = Rebooter(
            machines, context, spec.rollout.reboot, recorder=self.recorder,
            may_restart=may_restart,
        )  # fmt: skip
        self._watching: dict[str, anyio.CancelScope] = {}
        self.interrupted: Interrupt | None = None

    @property
    def planner(self) -> PollPlanner:
        """What the watches learned about durations (a gate's executor inherits it)."""
        return self.watcher.planner

    @planner.setter
    def planner(self, planner: PollPlanner) -> None:
        self.watcher.planner = planner

    def interrupt(self, action: Interrupt) -> None:
        """Stop watching every in-flight target and ``action`` it (DELETE wins over ABANDON)."""
        if self.interrupted is Interrupt.DELETE:
            return
        self.interrupted = action
        for scope in list(self._watching.values()):
            scope.cancel()
        self.rebooter.interrupt()  # a VM being restarted: one last read, then say so

    def _invocation(self, target: Target) -> Invocation | None:
        """What the PUT carries; with output storage, the blobs (a SAS valid while the agent may
        still write: the pending timeout, the script's run limit, the grace, a margin) and, for
        ``completion: storage``, the wrapped script."""
        if self.outputs is None:
            return invocation_for(self.spec, target, self.run_id)
        valid_for = (
            self.spec.rollout.pending_timeout_s + run_limit_s(self.spec.script.timeout_s)
            + self.settings.wedge_grace_s + SAS_MARGIN_S
        )  # fmt: skip
        blobs = self.outputs.blobs(target, valid_for)
        return invocation_for(self.spec, target, self.run_id, blobs=blobs, wrap=self.outputs.wraps)

    async def execute(self, target: Target, *, unsure: bool = False) -> TargetResult:
        """Launch ``target`` and follow it to its final result. ``unsure``: an earlier send's
        fate was unknown (Azure just said it did not arrive): a later send is checked again
        first."""
        started = await self.launch(target, unsure=unsure)
        if isinstance(started, TargetResult):
            return started
        return await self.follow(target, started)

    async def launch(
        self, target: Target, *, ask_first: bool = False, unsure: bool = False
    ) -> Started | TargetResult:
        """Send ``target``'s command; the final result when it never launched (no script for
        its OS, refused, at the limit, the run stopped first). ``ask_first``: an earlier attempt
        may have sent it (a crashed run, a retried activity) — Azure is read first, and the
        command is sent only when the read proves it never arrived."""
        invocation = self._invocation(target)
        if invocation is None:
            reason = f"the job has no script for OS {target.os or 'unknown'}"
            return TargetResult(target, Status.SKIPPED, reason=reason)
        if ask_first:
            arrived = await self.launcher.arrived(target, invocation)
            if arrived is None:
                return TargetResult(target, Status.ERROR, reason=UNKNOWN_FATE)
            if arrived:
                self.recorder.accepted(target)
                log.info("target.reattached", target=target.id)
                self.transition(target, TargetState.LAUNCHED, None)
                return Started(invocation, self.clock.now(), invocation.run_command)
            log.info("target.resume_launch", target=target.id)
            self.recorder.put_failed(target, NEVER_ARRIVED, arrived=False)
            unsure = True
        started = datetime.now(UTC)
        launch = await self._launch_when_allowed(target, invocation, doubt=unsure)
        if launch.err is not None and limit_of(launch.err) is not None:
            launch = await self._at_limit(target, invocation, launch)
        if launch.stopped is not None:
            return TargetResult(
                target, Status.NOT_STARTED, reason=launch.stopped, attempts=launch.attempts,
                deleted=launch.deleted,
            )  # fmt: skip
        launched_at = self.clock.now()  # after the PUT: time spent throttled is not run time
        if launch.err is not None:
            return self._refused(target, launch, started)
        self.transition(target, TargetState.LAUNCHED, None)
        locator = launch.handle or invocation.run_command
        return Started(invocation, launched_at, locator, launch.attempts, launch.deleted)

    async def follow(self, target: Target, started: Started) -> TargetResult:
        """Watch a launched command to its end, reboot if the result asks for it, then apply
        the cleanup policy (after the reboot: the VM accepts changes again once it is back)."""
        result = await self.watch(target, started)
        required = self.rebooter.required(result)
        if required is not None:
            self.transition(target, TargetState.REBOOTING, None)
            result = await self.rebooter.reboot(target, result, required)
        result = await self.keeper.tidy(target, started.invocation.run_command, result)
        deleted = (*started.deleted, *result.deleted)
        return replace(result, attempts=started.attempts, deleted=deleted)

    async def watch(self, target: Target, started: Started) -> TargetResult:
        """Read a launched command until it ends (an interrupt reads it once more, then deletes
        or leaves it); no cleanup."""
        inv = started.invocation
        return await self._watch_or_interrupt(target, inv, started.launched_at, started.locator)

    async def _launch_when_allowed(
        self, target: Target, inv: Invocation, attempts: int = 0, *, doubt: bool = False
    ) -> Launch:
        """One of the few PUT slots of the target's subscription, then the send — unless the
        run stopped launching. Few sends wait in the throttle queue at a time, and the run's
        stage is checked when one may go: a stop or an exhausted error budget holds back every
        later send. A busy VM is waited for outside the slot, then sent to again, within the
        script's timeout.
        ``doubt``: Azure was just asked about an earlier send of unknown fate — not again
        before the first send, but before any later one."""
        slots = self._put_slots.get(target.subscription.lower())
        if slots is None:
            slots = self._put_slots[target.subscription.lower()] = anyio.CapacityLimiter(
                self.settings.puts_in_flight
            )
        busy, unsure = BusyWait(float(run_limit_s(inv.timeout_s))), False
        while True:
            async with slots:
                stopped = self.may_launch()
                if stopped is not None:
                    return Launch(attempts=attempts, stopped=stopped)
                self.transition(target, TargetState.LAUNCHING, None)
                launch = await self.launcher.send(target, inv, unsure=unsure)
            attempts, unsure = attempts + launch.attempts, launch.unsure or doubt
            launch = replace(launch, attempts=attempts)
            if not launch.busy:
                return launch
            wait = busy.next()
            if wait is None:
                assert launch.err is not None
                return replace(launch, busy=False, err=busy_refusal(launch.err, busy.waited_s))
            await self.clock.sleep(self.settings.engine_s(wait))

    async def _at_limit(self, target: Target, inv: Invocation, launch: Launch) -> Launch:
        """Azure refused the PUT at its per-VM limit, so it never ran: free a slot (fleet's own
        finished run commands, oldest first) and PUT again — a few rounds at most, since
        another tool may take the freed slot first."""
        deleted = launch.deleted
        for _ in range(self.settings.reclaim_rounds):
            limit = None if launch.err is None else limit_of(launch.err)
            if limit is None or launch.stopped is not None:
                return replace(launch, deleted=deleted)
            freed, why = await self.keeper.free_slot(target, inv.run_command, limit)
            deleted = (*deleted, *freed)
            if why is not None:
                return replace(launch, deleted=deleted, refusal=why)
            launch = await self._launch_when_allowed(target, inv, launch.attempts)
        limit = None if launch.err is None else limit_of(launch.err)
        refusal = None
        if limit is not None:
            refusal = (
                f"the VM holds Azure's maximum of {limit.maximum} managed run commands: each of "
                f"the {self.settings.reclaim_rounds} slots fleet freed was taken by another run "
                "command before fleet's PUT"
            )
        return replace(launch, deleted=deleted, refusal=refusal)

    def _refused(self, target: Target, launch: Launch, started: datetime) -> TargetResult:
        assert launch.err is not None
        if launch.refusal is not None:
            status, reason = Status.LIMIT_REACHED, launch.refusal
        else:
            status, reason = status_for_put_error(launch.err)
        reason = self._redact(reason)
        log.info("target.refused", target=target.id, status=status.value, reason=reason)
        return TargetResult(
            target, status, reason=reason, attempts=launch.attempts,
            started_at=started, ended_at=datetime.now(UTC), deleted=launch.deleted,
        )  # fmt: skip

    async def resume_reboot(self, target: Target, pending: PendingReboot) -> TargetResult:
        """Continue a target a crashed run was rebooting (its script had finished)."""
        log.info("target.reattached", target=target.id, rebooting=True)
        self.transition(target, TargetState.LAUNCHED, None)
        self.transition(target, TargetState.REBOOTING, None)
        result = await self.rebooter.resume(target, pending)
        invocation = invocation_for(self.spec, target, self.run_id)
        if invocation is None:
            return result
        return await self.keeper.tidy(target, invocation.run_command, result)

    async def resume(
        self, target: Target, ambiguous: bool, handle: str | None = None
    ) -> TargetResult:
        """Continue a target a crashed run had launched (``ambiguous``: the journal says a PUT
        was about to be sent, not whether Azure got it; ``handle``: what its launch answered,
        if journaled). Never sends again unless Azure proves the earlier send never arrived."""
        if ambiguous:
            started = await self.launch(target, ask_first=True)
            if isinstance(started, TargetResult):
                return started
            if handle is not None:
                started = replace(started, locator=handle)
            return await self.follow(target, started)
        invocation = self._invocation(target)
        if invocation is None:
            reason = f"the job has no script for OS {target.os or 'unknown'}"
            return TargetResult(target, Status.SKIPPED, reason=reason)
        log.info("target.reattached", target=target.id)
        self.transition(target, TargetState.LAUNCHED, None)
        locator = handle or invocation.run_command
        return await self.follow(target, Started(invocation, self.clock.now(), locator))

    async def _watch_or_interrupt(
        self, target: Target, inv: Invocation, launched_at: float, locator: str
    ) -> TargetResult:
        """The command's result, with its full output when the job keeps outputs (read from
        its blobs; a stopping run does not wait on storage for long)."""
        result = await self._watched(target, inv, launched_at, locator)
        if self.outputs is None:
            return result
        with anyio.move_on_after(self.settings.engine_s(self.settings.interrupt_call_s)):
            return await self.outputs.collect(result, self.secrets)
        return result

    async def _watched(
        self, target: Target, inv: Invocation, launched_at: float, locator: str
    ) -> TargetResult:
        key = target.id.lower()
        if self.interrupted is None:
            with anyio.CancelScope() as scope:
                self._watching[key] = scope
                try:
                    return await self._until_final(target, inv, launched_at, locator)
                finally:
                    self._watching.pop(key, None)
        return await self._interrupted(target, inv, locator)

    async def _until_final(
        self, target: Target, inv: Invocation, launched_at: float, locator: str
    ) -> TargetResult:
        """From the completion record in storage when the job says so, else (or when the
        container cannot be read) from budgeted ARM reads of ``locator``."""
        outputs = self.outputs
        if outputs is not None and outputs.watcher is not None:
            where = (outputs.prefix(target), launched_at)
            found = await storage_watch.follow(outputs.watcher, self.watcher, target, inv, where)
            if found is not None:
                return found
        return await self.watcher.watch(target, inv, launched_at, locator)

    async def _interrupted(self, target: Target, inv: Invocation, locator: str) -> TargetResult:
        """The watch was interrupted: one last read, then delete or leave the command — each
        bounded in time, so a run that is stopping never hangs on a throttled Azure."""
        limit = self.settings.engine_s(self.settings.interrupt_call_s)
        last: RunView | CallError = CallError(0, "Timeout", "no answer in time")
        with anyio.move_on_after(limit):
            last = await self.run_commands.get(target, locator)
        if isinstance(last, RunView) and last.terminal and not last.owner_unknown:
            return result_from_view(
                target, last, 1, self.secrets, timeout_s=inv.timeout_s,
                success_exit_codes=self.spec.script.success_exit_codes,
            )  # fmt: skip
        state = last.execution_state if isinstance(last, RunView) else "unreadable"
        if self.interrupted is Interrupt.DELETE:
            self.transition(target, TargetState.CANCELING, None)
            err: CallError | None = CallError(0, "Timeout", "no answer in time")
            await self.recorder.settle()  # its PUT_ACCEPTED outlives a kill once it is deleted
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

    def _redact(self, text: str) -> str:
        return self.secrets.redact(text)

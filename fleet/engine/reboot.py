"""One target's reboot after its script (``Rebooter``): the durable intent, the restart (one
POST, never re-sent on a guess), budgeted reads of the VM's instance view until it is running
with its agent Ready or ``reboot_timeout`` has passed, and what a stop does meanwhile. Whether a
result asks for a reboot, when a VM is back and what a read proves are the pure rules of
``fleet.rollout.reboots``.

**Never twice.** A restart is journaled like a PUT: the intent — with the script's result and
the instance view read just before — is durable before the POST leaves, Azure's acceptance is
recorded after it. A restart whose answer is lost (no response, 5xx) is followed by a read of
the instance view after ``restart_settle_s``; it is sent again only when Azure proves the first
never arrived (the VM untouched since the reading before), else taken as arrived, or reported
``Error`` (fate unknown) when nothing can be read. A resumed run does the same for an intent
without an outcome (``resume``), and waits for a restart Azure had accepted.

**Waiting.** The instance view is read when this rebooter's own ``PollPlanner`` says (a few
scouts first, then when VMs are learned to come back), at most once per ``min_gap`` and at least
once per ``max_gap``, and once more at the deadline: ``reboot_timeout`` after the restart was
sent. A VM not back by then is ``RebootTimedOut`` (a failure for the error budget).

**Stops.** No restart is sent after a stop (a halt lets running targets finish, reboots
included): the target keeps its script's status and its record says the reboot was required and
not requested. A stop's grace period covers the waits already under way; when it runs out, or
on a cancel, each wait ends with one last read: back is done, anything else ``Error`` saying
the VM was restarting when fleet stopped waiting. Only the waits are ever interrupted, never a
restart request in flight.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import anyio
import structlog

from fleet.engine.polling import EPSILON, PollPlanner, sleep_until_due
from fleet.engine.settings import RunContext
from fleet.model import (
    CallError,
    MachineView,
    RebootOutcome,
    RebootPolicy,
    RebootRecord,
    RestartAccepted,
    Status,
    Target,
    TargetResult,
)
from fleet.ports import Machines, NullRecorder, Recorder
from fleet.rollout.reboots import arrived, is_back, reboot_required
from fleet.util import failpoints

log = structlog.get_logger("fleet.engine")

_REFUSALS = {403: Status.ACCESS_DENIED, 404: Status.NOT_FOUND, 409: Status.CONFLICT}


@dataclass(frozen=True)
class PendingReboot:
    """What the journal knows of a target's reboot when a crashed run resumes."""

    script: TargetResult  # the script's result, before the reboot
    required: str
    baseline: MachineView  # read just before the (latest) restart request
    intent_at: datetime  # when that request's intent was journaled (UTC)
    arrived: bool | None  # True: Azure accepted it; None: fate unknown; False: proven lost
    refusal: CallError | None = None  # Azure refused it: it never happened, report that
    restarts: int = 1  # restart intents journaled


@dataclass(frozen=True)
class _Sent:
    attempts: int
    at: float = 0.0  # engine clock when the accepted request was sent
    at_utc: datetime | None = None
    error: CallError | None = None  # not accepted: refused, or lost every time
    unknown: bool = False  # the answer was lost and no read could tell whether it arrived


@dataclass
class _Wait:
    """What the reads of one wait have seen (engine seconds after the restart was sent)."""

    reads: int = 0
    seen_away: bool = False
    away_read: float = 0.0  # the last read that saw it not back yet (0 = the request)
    last_read: float = 0.0
    view: MachineView | None = None
    error: CallError | None = None


class Rebooter:
    def __init__(
        self,
        machines: Machines | None,
        context: RunContext,
        policy: RebootPolicy,
        *,
        recorder: Recorder | None = None,
        may_restart: Callable[[], str | None] | None = None,
    ) -> None:
        self.machines, self.policy = machines, policy
        self.settings, self.clock, self.secrets = context.settings, context.clock, context.secrets
        self.recorder: Recorder = recorder or NullRecorder()
        self.may_restart = may_restart or (lambda: None)  # a reason = the run stopped
        self.planner = PollPlanner(self.settings.reboot_poll.scaled(self.settings.time_scale))
        self._waiting: dict[str, anyio.CancelScope] = {}
        self.interrupted = False

    def required(self, result: TargetResult) -> str | None:
        """Why ``result`` asks for a reboot (None: it does not)."""
        return reboot_required(self.policy, result)

    def interrupt(self) -> None:
        """Stop every wait (one last read each) and send no further restart."""
        self.interrupted = True
        for scope in list(self._waiting.values()):
            scope.cancel()

    async def reboot(self, target: Target, script: TargetResult, required: str) -> TargetResult:
        """Restart ``target`` after ``script`` asked for it (``required``: why), and wait."""
        log.info("target.reboot_required", target=target.id, why=required)
        if self.machines is None:
            why = "this connection cannot restart VMs"
            return self._failed(script, required, RebootOutcome.NOT_REQUESTED, why, False)
        if (stopped := self._stopped()) is not None:
            return self._not_requested(script, required, stopped)
        baseline = await self.machines.view(target)
        if isinstance(baseline, CallError):
            why = f"the VM could not be read before its restart ({self._error(baseline)})"
            return self._failed(script, required, RebootOutcome.NOT_REQUESTED, why, False)
        if (stopped := self._stopped()) is not None:
            return self._not_requested(script, required, stopped)
        sent = await self._request(target, script, required, baseline)
        return await self._after(target, script, required, baseline, sent)

    async def resume(self, target: Target, pending: PendingReboot) -> TargetResult:
        """Go on with a reboot a crashed run had started: never restart twice."""
        script, required, baseline = pending.script, pending.required, pending.baseline
        if self.machines is None:
            why = "this connection cannot restart VMs"
            return self._failed(script, required, RebootOutcome.UNKNOWN, why, None)
        sent = await self._resumed(target, pending)
        if isinstance(sent, str):
            return self._not_requested(script, required, sent)
        result = await self._after(target, script, required, baseline, sent)
        return _with_restarts(result, pending.restarts)

    async def _resumed(self, target: Target, pending: PendingReboot) -> _Sent | str:
        """How the journaled restart went — Azure is asked where the journal cannot say — or a
        new request when Azure proves it never arrived (a reason instead: the run stopped)."""
        if pending.refusal is not None:
            return _Sent(0, error=pending.refusal)
        elapsed = max(0.0, (datetime.now(UTC) - pending.intent_at).total_seconds())
        accepted = _Sent(0, self.clock.now() - elapsed, pending.intent_at)
        if pending.arrived:
            return accepted
        verdict = await self._arrived(target, pending.baseline)
        log.info("target.restart_resumed", target=target.id, arrived=verdict)
        if verdict is None:
            return _Sent(0, unknown=True)
        if verdict:
            self.recorder.reboot_accepted(target, RestartAccepted())
            return accepted
        stopped = self._stopped()
        if stopped is not None:
            return stopped
        return await self._request(target, pending.script, pending.required, pending.baseline)

    # -- the request --------------------------------------------------------------------------

    async def _request(
        self, target: Target, script: TargetResult, required: str, baseline: MachineView
    ) -> _Sent:
        """Send the restart once; when its fate is unknown, read before ever sending it again."""
        assert self.machines is not None
        attempts, err = 0, None
        for _ in range(self.settings.put_unknown_retries + 1):
            attempts += 1
            await self.recorder.reboot_intent(target, script, required, baseline)
            failpoints.hit("after-reboot-intent")
            at, at_utc = self.clock.now(), datetime.now(UTC)
            answer = await self.machines.restart(target)
            failpoints.hit("after-restart")
            if isinstance(answer, RestartAccepted):
                self.recorder.reboot_accepted(target, answer)
                failpoints.hit("after-reboot-accepted")
                log.info("target.restart_accepted", target=target.id)
                return _Sent(attempts, at, at_utc)
            err = answer
            if not err.transient:  # Azure answered and refused it: it never happened
                self.recorder.reboot_failed(target, err, arrived=False)
                return _Sent(attempts, error=err)
            log.warning("target.restart_unknown", target=target.id, status=err.status)
            verdict = await self._arrived(target, baseline)
            if verdict is None:
                self.recorder.reboot_failed(target, err, arrived=None)
                return _Sent(attempts, error=err, unknown=True)
            if verdict:  # it did arrive: never send it twice
                self.recorder.reboot_accepted(target, RestartAccepted())
                return _Sent(attempts, at, at_utc)
            self.recorder.reboot_failed(target, err, arrived=False)  # proven lost: a new intent
            if self._stopped() is not None:
                break
        return _Sent(attempts, error=err)

    async def _arrived(self, target: Target, baseline: MachineView) -> bool | None:
        """Whether a restart of unknown fate reached Azure (``fleet.rollout.reboots.arrived``),
        read once it has had time to show; None when no read succeeded."""
        assert self.machines is not None
        delay = self.settings.engine_s(self.settings.restart_settle_s)
        for attempt in range(self.settings.put_unknown_retries + 1):
            await self.clock.sleep(delay * 2**attempt)
            view = await self.machines.view(target)
            if isinstance(view, MachineView):
                return arrived(view, baseline)
        return None

    # -- the wait -----------------------------------------------------------------------------

    async def _after(
        self, target: Target, script: TargetResult, required: str, base: MachineView, sent: _Sent
    ) -> TargetResult:
        if sent.unknown:
            why = "the restart's fate is unknown (it may have happened); it was not sent again"
            if sent.error is not None:
                why += f" ({self._error(sent.error)})"
            return self._failed(script, required, RebootOutcome.UNKNOWN, why, None, sent)
        if sent.error is not None:
            return self._refused(script, required, sent)
        key, st = target.id.lower(), _Wait()
        back = False
        if not self.interrupted:
            with anyio.CancelScope() as scope:
                self._waiting[key] = scope
                try:
                    back = await self._wait(target, base, sent.at, st)
                finally:
                    self._waiting.pop(key, None)
                    self.planner.release(key)
        if self.interrupted and not back:
            back = await self._last_look(target, base, st, sent.at)
            if not back:
                return self._abandoned(script, required, sent, st)
        return self._waited(script, required, sent, st, back)

    async def _wait(self, target: Target, base: MachineView, since: float, st: _Wait) -> bool:
        """Read until the VM is back (True) or the timeout has passed (False)."""
        assert self.machines is not None
        key, at = target.id.lower(), self.settings.engine_s(self.policy.timeout_s)
        while True:
            await sleep_until_due(
                self.planner, self.clock, key, since, st.away_read, st.last_read, at
            )
            if self._seen(await self.machines.view(target), base, st, since):
                self.planner.observe_completion(key, st.last_read, st.away_read)
                return True
            self.planner.observe_running(key, st.last_read)
            st.away_read = st.last_read
            if st.last_read >= at - EPSILON * self.planner.settings.min_gap_s:
                return False

    def _seen(
        self, view: MachineView | CallError, base: MachineView, st: _Wait, since: float
    ) -> bool:
        """Take in one read; True when it shows the VM back."""
        failpoints.hit("after-reboot-read")
        st.reads += 1
        st.last_read = self.clock.now() - since
        if isinstance(view, CallError):
            st.error = view
            return False
        st.view = view
        if is_back(view, base, seen_away=st.seen_away):
            return True
        st.seen_away = st.seen_away or view.busy or not view.back
        return False

    async def _last_look(self, target: Target, base: MachineView, st: _Wait, since: float) -> bool:
        """The run stopped waiting: one read, bounded in time."""
        assert self.machines is not None
        view: MachineView | CallError = CallError(0, "Timeout", "no answer in time")
        with anyio.move_on_after(self.settings.engine_s(self.settings.interrupt_call_s)):
            view = await self.machines.view(target)
        return self._seen(view, base, st, since)

    # -- results ------------------------------------------------------------------------------

    def _waited(
        self, script: TargetResult, required: str, sent: _Sent, st: _Wait, back: bool
    ) -> TargetResult:
        seconds = round(st.last_read * self.settings.time_scale, 1)
        record = RebootRecord(
            required, RebootOutcome.DONE if back else RebootOutcome.TIMED_OUT, requested=True,
            requested_at=sent.at_utc, ready_at=datetime.now(UTC) if back else None,
            seconds_to_ready=seconds if back else None, detail=self._last_seen(st),
            restarts=sent.attempts, reads=st.reads,
        )  # fmt: skip
        if back:
            log.info("target.rebooted", target=script.target.id, seconds=seconds)
            return replace(script, reboot=record)
        reason = (
            f"restarted ({required}) and not back (running, agent Ready) within "
            f"{self.policy.timeout_s} s (reboot_timeout): last seen {record.detail}"
        )
        log.warning("target.reboot_timed_out", target=script.target.id, reason=reason)
        return replace(script, status=Status.REBOOT_TIMED_OUT, reason=reason, reboot=record)

    def _abandoned(
        self, script: TargetResult, required: str, sent: _Sent, st: _Wait
    ) -> TargetResult:
        why = (
            f"the VM was restarting ({required}) when the run stopped; fleet did not wait for it "
            f"to come back (last seen {self._last_seen(st)})"
        )
        record = RebootRecord(
            required, RebootOutcome.ABANDONED, requested=True, requested_at=sent.at_utc,
            detail=self._last_seen(st), restarts=sent.attempts, reads=st.reads,
        )  # fmt: skip
        return replace(script, status=Status.ERROR, reason=why, reboot=record)

    def _refused(self, script: TargetResult, required: str, sent: _Sent) -> TargetResult:
        assert sent.error is not None
        err = sent.error
        why = f"the script succeeded ({required}) but the restart failed: {self._error(err)}"
        if err.transient:
            why += " (Azure proved each attempt never arrived)"
        status = _REFUSALS.get(err.status, Status.ERROR)
        if err.status == 429:
            status = Status.THROTTLED_OUT
        return self._failed(script, required, RebootOutcome.REFUSED, why, False, sent, status)

    def _failed(
        self,
        script: TargetResult,
        required: str,
        outcome: RebootOutcome,
        why: str,
        requested: bool | None,
        sent: _Sent | None = None,
        status: Status = Status.ERROR,
    ) -> TargetResult:
        why = self.secrets.redact(why)
        log.warning("target.reboot_failed", target=script.target.id, reason=why)
        record = RebootRecord(
            required, outcome, requested=requested, detail=why,
            restarts=0 if sent is None else sent.attempts,
        )  # fmt: skip
        return replace(script, status=status, reason=why, reboot=record)

    def _not_requested(self, script: TargetResult, required: str, stopped: str) -> TargetResult:
        detail = f"not requested: {stopped}"
        log.info("target.reboot_not_requested", target=script.target.id, reason=stopped)
        record = RebootRecord(required, RebootOutcome.NOT_REQUESTED, requested=False, detail=detail)
        return replace(script, reboot=record)

    def _stopped(self) -> str | None:
        if self.interrupted:
            return "the run stopped"
        return self.may_restart()

    def _last_seen(self, st: _Wait) -> str:
        if st.view is not None:
            return st.view.describe()
        return "nothing readable" if st.error is None else self._error(st.error)

    def _error(self, err: CallError) -> str:
        return self.secrets.redact(f"{err.code}: {err.message}")


def _with_restarts(result: TargetResult, earlier: int) -> TargetResult:
    """Count the restart requests the crashed run had journaled too."""
    if result.reboot is None:
        return result
    return replace(result, reboot=replace(result.reboot, restarts=result.reboot.restarts + earlier))

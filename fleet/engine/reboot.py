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
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio
import structlog

from fleet.engine import reboot_results as results
from fleet.engine.polling import EPSILON, PollPlanner, sleep_until_due
from fleet.engine.reboot_results import Sent, Waited
from fleet.engine.settings import RunContext
from fleet.model import (
    CallError,
    MachineView,
    RebootOutcome,
    RebootPolicy,
    RestartAccepted,
    Target,
    TargetResult,
)
from fleet.ports import Machines, NullRecorder, Recorder
from fleet.rollout.reboots import arrived, is_back, reboot_required
from fleet.util import failpoints

log = structlog.get_logger("fleet.engine")


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
            return results.not_requested(script, required, stopped)
        baseline = await self.machines.view(target)
        if isinstance(baseline, CallError):
            why = (
                f"the VM could not be read before its restart ({baseline.code}: {baseline.message})"
            )
            return self._failed(script, required, RebootOutcome.NOT_REQUESTED, why, False)
        if (stopped := self._stopped()) is not None:
            return results.not_requested(script, required, stopped)
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
            return results.not_requested(script, required, sent)
        result = await self._after(target, script, required, baseline, sent)
        return results.with_restarts(result, pending.restarts)

    async def _resumed(self, target: Target, pending: PendingReboot) -> Sent | str:
        """How the journaled restart went — Azure is asked where the journal cannot say — or a
        new request when Azure proves it never arrived (a reason instead: the run stopped)."""
        if pending.refusal is not None:
            return Sent(0, error=pending.refusal)
        elapsed = max(0.0, (datetime.now(UTC) - pending.intent_at).total_seconds())
        accepted = Sent(0, self.clock.now() - elapsed, pending.intent_at)
        if pending.arrived:
            return accepted
        verdict = await self._arrived(target, pending.baseline)
        log.info("target.restart_resumed", target=target.id, arrived=verdict)
        if verdict is None:
            return Sent(0, unknown=True)
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
    ) -> Sent:
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
                return Sent(attempts, at, at_utc)
            err = answer
            if not err.transient:  # Azure answered and refused it: it never happened
                self.recorder.reboot_failed(target, err, arrived=False)
                return Sent(attempts, error=err)
            log.warning("target.restart_unknown", target=target.id, status=err.status)
            verdict = await self._arrived(target, baseline)
            if verdict is None:
                self.recorder.reboot_failed(target, err, arrived=None)
                return Sent(attempts, error=err, unknown=True)
            if verdict:  # it did arrive: never send it twice
                self.recorder.reboot_accepted(target, RestartAccepted())
                return Sent(attempts, at, at_utc)
            self.recorder.reboot_failed(target, err, arrived=False)  # proven lost: a new intent
            if self._stopped() is not None:
                break
        return Sent(attempts, error=err)

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
        self, target: Target, script: TargetResult, required: str, base: MachineView, sent: Sent
    ) -> TargetResult:
        if sent.unknown:
            return results.unknown(script, required, sent, self.secrets)
        if sent.error is not None:
            return results.refused(script, required, sent, self.secrets)
        key, st = target.id.lower(), Waited()
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
                return results.abandoned(script, required, sent, st, self.secrets)
        return results.waited(
            script, required, sent, st, back=back, timeout_s=self.policy.timeout_s,
            azure_seconds=st.last_read * self.settings.time_scale, secrets=self.secrets,
        )  # fmt: skip

    async def _wait(self, target: Target, base: MachineView, since: float, st: Waited) -> bool:
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
        self, view: MachineView | CallError, base: MachineView, st: Waited, since: float
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

    async def _last_look(self, target: Target, base: MachineView, st: Waited, since: float) -> bool:
        """The run stopped waiting: one read, bounded in time."""
        assert self.machines is not None
        view: MachineView | CallError = CallError(0, "Timeout", "no answer in time")
        with anyio.move_on_after(self.settings.engine_s(self.settings.interrupt_call_s)):
            view = await self.machines.view(target)
        return self._seen(view, base, st, since)

    def _stopped(self) -> str | None:
        if self.interrupted:
            return "the run stopped"
        return self.may_restart()

    def _failed(
        self,
        script: TargetResult,
        required: str,
        outcome: RebootOutcome,
        why: str,
        requested: bool | None,
    ) -> TargetResult:
        return results.failed(script, required, outcome, why, requested, self.secrets)

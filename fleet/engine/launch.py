"""Sending one target's run command: the intent made durable first, the PUT (managed) or POST
(action) sent once, and what happens when Azure neither simply accepts nor refuses it.

Exactly-once rule: after Azure accepted a command, it is never sent again. Nothing below the
engine re-sends one by itself (``RunCommands.put`` sends it once; a 429 alone is re-sent, as it
was refused unprocessed). Two answers need more than one send:

* **Fate unknown** (no answer, a 408 or a 5xx). Azure is asked first (:meth:`Launcher.arrived`,
  after ``put_settle_s``, so a command still being processed inside Azure is not taken for a
  lost one) and the command is sent again only when Azure proves the first never arrived: no
  run command of that name, or one carrying another run's ``FLEET_RUN_ID`` (managed); the VM's
  action run-command extension showing another run's result (action). An answer that cannot
  say whose it is (``RunView.owner_unknown``: an action command in progress, or one that ended
  without fleet's marker) is waited out while in progress and proves nothing once ended. If
  Azure cannot be asked, the target is ``Error`` and never re-sent.
* **Busy** (the action run command's 409 "execution is in progress": Azure runs one at a time
  per VM). Nothing ran; the executor waits outside its PUT slot (:class:`BusyWait`) and sends
  again within the script's timeout. Once an earlier send of this target had an unknown fate
  (``unsure``), every later send is preceded by that read: the command that kept the VM busy
  may have been that send (an action command the agent has not picked up yet still shows the
  VM's previous result), and it may have finished since.

Each finding is journaled (``Recorder``), so the journal's intents account for every command
fleet may have sent.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from fleet.engine.settings import EngineSettings
from fleet.model import CallError, Deleted, Invocation, Launched, RunView, Target
from fleet.ports import Clock, Recorder, RunCommands
from fleet.util import failpoints

log = structlog.get_logger("fleet.engine")
#: What the journal records for an announced PUT that a read proved never arrived.
NEVER_ARRIVED = CallError(404, "NotArrived", "no run command carrying this run's id on the VM")
UNKNOWN_FATE = "the run command's fate is unknown (it may have run); not re-sent"
#: An earlier send's fate is unknown, and Azure cannot tell whether it arrived.
UNSURE = CallError(0, "Unknown", "an earlier send's answer was lost")


@dataclass(frozen=True)
class Launch:
    """How sending a target's command went: accepted (``err`` None, maybe a ``handle``),
    refused or of unknown fate (``err``), ``busy`` (send again later), or not sent because the
    run stopped launching first (``stopped``, the NotStarted reason). ``unsure``: an earlier
    send's fate was unknown (carried into the next try)."""

    err: CallError | None = None
    attempts: int = 0  # commands sent
    handle: str | None = None
    busy: bool = False
    unsure: bool = False
    stopped: str | None = None
    deleted: tuple[Deleted, ...] = ()  # run commands deleted to free a slot at the limit
    refusal: str | None = None  # why no slot could be freed at the limit (LimitReached)


@dataclass
class BusyWait:
    """Backoff while a VM is busy with another action run command, in Azure-seconds: the
    first wait, doubling up to ``max_s``, never past ``limit_s`` in all."""

    limit_s: float
    first_s: float = 15.0
    max_s: float = 120.0
    waited_s: float = 0.0
    tries: int = 0

    def next(self) -> float | None:
        """How long to wait before the next send, or None when the limit is spent."""
        left = self.limit_s - self.waited_s
        if left <= 0:
            return None
        wait: float = min(self.max_s, self.first_s * 2.0**self.tries, left)
        self.tries += 1
        self.waited_s += wait
        return wait


def busy_refusal(err: CallError, waited_s: float) -> CallError:
    """The refusal a target gets when its VM stayed busy for as long as fleet would wait."""
    message = (
        f"another action run command was still running on the VM after fleet waited "
        f"{waited_s:.0f} s for it (Azure runs one at a time per VM); the script was not sent "
        f"({err.message})"
    )
    return CallError(err.status, err.code, message)


class Launcher:
    """Sends one target's command under the exactly-once rule (module docstring)."""

    def __init__(
        self,
        run_commands: RunCommands,
        recorder: Recorder,
        settings: EngineSettings,
        clock: Clock,
    ) -> None:
        self.run_commands, self.recorder = run_commands, recorder
        self.settings, self.clock = settings, clock

    async def send(self, target: Target, inv: Invocation, *, unsure: bool = False) -> Launch:
        """Send once; when its fate is unknown, ask Azure before ever sending it again.
        ``unsure``: an earlier send of this target had an unknown fate — ask first."""
        attempts, lost = 0, None  # lost: the last send whose fate is unknown
        while True:
            if unsure:
                found = await self._check(target, inv, lost, attempts)
                if found is not None:
                    return found
                if attempts > self.settings.put_unknown_retries:
                    return Launch(lost, attempts, unsure=True)
            attempts += 1
            await self.recorder.intent(target, inv)  # durable before the command leaves
            failpoints.hit("after-intent")
            answer = await self.run_commands.put(target, inv)
            failpoints.hit("after-put")
            if not isinstance(answer, CallError):
                return self._accepted(target, answer, attempts, unsure)
            if answer.busy or not answer.transient:  # Azure answered and refused it unread
                self.recorder.put_failed(target, answer, arrived=False)
                if answer.busy:
                    log.info("target.busy", target=target.id)
                return Launch(answer, attempts, busy=answer.busy, unsure=unsure)
            log.warning(
                "target.put_unknown", target=target.id, status=answer.status, code=answer.code
            )
            unsure, lost = True, answer

    async def _check(
        self, target: Target, inv: Invocation, lost: CallError | None, attempts: int
    ) -> Launch | None:
        """Ask Azure whether an earlier send arrived: a final ``Launch`` if it did (or if
        Azure cannot tell), None when it proved it did not (then it may be sent)."""
        arrived = await self.arrived(target, inv)
        if arrived is None:  # still unknown: re-sending could run the script twice
            return self._unknown(target, lost or UNSURE, attempts)
        if arrived:
            self.recorder.accepted(target)
            failpoints.hit("after-accepted")
            return Launch(None, attempts, unsure=True)  # it did arrive: never twice
        if lost is not None:
            self.recorder.put_failed(target, lost, arrived=False)  # proven lost
        return None

    def _accepted(
        self, target: Target, answer: Launched | None, attempts: int, unsure: bool
    ) -> Launch:
        handle = answer.handle if answer is not None else None
        if handle is None:
            self.recorder.accepted(target)
        else:
            self.recorder.accepted(target, handle)
        failpoints.hit("after-accepted")
        return Launch(None, attempts, handle, unsure=unsure)

    def _unknown(self, target: Target, err: CallError, attempts: int) -> Launch:
        self.recorder.put_failed(target, err, arrived=None)
        error = CallError(err.status, err.code, f"{UNKNOWN_FATE}: {err.message}")
        return Launch(error, attempts, unsure=True)

    async def arrived(self, target: Target, inv: Invocation) -> bool | None:
        """Whether a command of unknown fate reached Azure: True when what Azure shows carries
        this run's id (whatever its state: it is watched from there), False when a read proves
        it absent (404, or another run's), None when Azure cannot tell (every read failed, or
        an answer of unknown owner ended or outlasted the script's timeout plus grace)."""
        settings, poll = self.settings, self.settings.poll.scaled(self.settings.time_scale)
        await self.clock.sleep(settings.engine_s(settings.put_settle_s))
        give_up = self.clock.now() + settings.engine_s(inv.timeout_s + settings.wedge_grace_s)
        failed, waits = 0, 0
        while True:
            view = await self.run_commands.get(target, inv.run_command)
            if isinstance(view, RunView) and not view.owner_unknown:
                arrived = view.run_id == inv.run_id  # another id: an earlier run's
                log.info(
                    "target.put_checked", target=target.id, arrived=arrived,
                    execution_state=view.execution_state,
                )  # fmt: skip
                return arrived
            if isinstance(view, RunView):  # whose it is shows only once it ends
                if view.terminal or self.clock.now() >= give_up:
                    log.info("target.put_checked", target=target.id, arrived=None)
                    return None
                waits += 1
                await self.clock.sleep(min(poll.max_gap_s, poll.first_delay_s * poll.growth**waits))
                continue
            if view.status == 404:
                log.info("target.put_checked", target=target.id, arrived=False)
                return False
            failed += 1
            if failed > settings.put_unknown_retries:
                return None
            await self.clock.sleep(poll.min_gap_s * 2**failed)

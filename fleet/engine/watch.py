"""Watching one launched run command to its end (``Watcher``): budgeted reads of its instance
view (or, for an action run command, of its operation: the handle its launch answered), when the
planner says one is due, until Azure reports a final execution state, gives up on the VM agent,
another run replaces the command, or it is overdue (``fleet.engine.deadlines``). A final answer
that cannot say whose it is (``RunView.owner_unknown``) is not taken for this run's.

Completion is decided by ``executionState`` alone (``RunView.terminal``), never by an exit code or
output: in flight the Linux handler reports ``exitCode: 0`` and the output so far. A command that
stays Pending is ended by Azure (its operation fails, ``provisioningState: Failed``, about 25
minutes after the request) or by the run's ``pending_timeout``: ``AgentNotReady`` either way.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from fleet.engine.deadlines import Overdue, started
from fleet.engine.outcome import status_for_put_error, status_for_view
from fleet.engine.polling import EPSILON, PollPlanner, sleep_until_due
from fleet.engine.settings import RunContext
from fleet.model import Invocation, RunView, Status, Target, TargetResult, run_limit_s
from fleet.model.rollout import PENDING_TIMEOUT_S
from fleet.ports import RunCommands
from fleet.secrets import Secrets


def result_from_view(
    target: Target,
    view: RunView,
    polls: int,
    secrets: Secrets,
    status: Status | None = None,
    reason: str | None = None,
    *,
    timeout_s: int = 0,
    success_exit_codes: Collection[int] = (0,),
) -> TargetResult:
    """The target's result from ``view`` (the status from Azure's state unless given)."""
    if status is None:
        status, reason = status_for_view(view, timeout_s, success_exit_codes)
    return TargetResult(
        target,
        status,
        reason=reason and secrets.redact(reason),
        # an exit code means something only in a final view (in flight, Linux says 0)
        exit_code=view.exit_code if view.terminal else None,
        output=secrets.redact(view.output),
        error=secrets.redact(view.error),
        execution_state=view.execution_state,
        started_at=view.start_time,
        ended_at=view.end_time,
        polls=polls,
    )


@dataclass
class Reads:
    """What the reads of one watch have seen so far (engine seconds after launch)."""

    polls: int = 0
    seen_running: float = 0.0  # the last read that saw it in flight (0 = launch)
    last_read: float = 0.0
    view: RunView | None = None  # the last instance view read successfully


class Watcher:
    def __init__(
        self,
        run_commands: RunCommands,
        context: RunContext,
        pending_timeout_s: int,
        success_exit_codes: Collection[int] = (0,),
    ) -> None:
        self.run_commands, self.secrets = run_commands, context.secrets
        self.settings, self.clock = context.settings, context.clock
        self.pending_timeout_s = pending_timeout_s
        self.success_exit_codes = success_exit_codes
        self.planner = PollPlanner(self.settings.poll.scaled(self.settings.time_scale))

    def due(self, inv: Invocation) -> Overdue:
        """When a command sent as ``inv`` is overdue (it follows what the reads see)."""
        s = self.settings
        return Overdue(
            s.engine_s(self.pending_timeout_s),
            s.engine_s(run_limit_s(inv.timeout_s) + s.wedge_grace_s),
        )

    async def watch(
        self, target: Target, inv: Invocation, launched_at: float, locator: str | None = None
    ) -> TargetResult:
        """Read ``target``'s run command until it ends; ``launched_at``: the clock's time;
        ``locator``: what to read (the handle its launch answered; default: its name)."""
        key, due, seen = target.id.lower(), self.due(inv), Reads()
        self.planner.launched(key)
        try:
            while True:
                await sleep_until_due(
                    self.planner, self.clock, key, launched_at, seen.seen_running,
                    seen.last_read, due.at,
                )  # fmt: skip
                ended = await self.read(target, inv, seen, due, launched_at, locator)
                if ended is not None:
                    return ended
                if seen.last_read >= due.at - EPSILON * self.planner.settings.min_gap_s:
                    return self.overdue(target, seen, due)
        finally:
            self.planner.release(key)

    async def read(
        self,
        target: Target,
        inv: Invocation,
        seen: Reads,
        due: Overdue,
        launched_at: float,
        locator: str | None = None,
    ) -> TargetResult | None:
        """One read of the instance view (also the storage watch's, ``fleet.engine.
        storage_watch``): the target's result when the read ends the watch, else None.
        ``locator``: what to read (the launch's handle; default: the run command's name)."""
        key = target.id.lower()
        last = await self.run_commands.get(target, locator or inv.run_command)
        seen.polls += 1
        seen.last_read = self.clock.now() - launched_at
        if isinstance(last, RunView):
            ended = self._ended(target, inv, last, seen.polls)
            if ended is not None:
                if last.terminal:
                    self.planner.observe_completion(key, seen.last_read, seen.seen_running)
                return ended
            seen.view, seen.seen_running = last, seen.last_read
            due.observe(last, seen.last_read)
            self.planner.observe_running(key, seen.last_read)
        elif not (last.transient or last.status == 429):
            status, reason = status_for_put_error(last)
            reason = self.secrets.redact(f"reading the result: {reason}")
            return TargetResult(target, status, reason=reason, polls=seen.polls)
        return None

    def _ended(
        self, target: Target, inv: Invocation, view: RunView, polls: int
    ) -> TargetResult | None:
        """The target's result when ``view`` ends it (final execution state, replaced by
        another run, or given up by Azure while Pending); None while it goes on."""
        if view.run_id not in (None, inv.run_id):
            reason = (
                f"the run command was replaced by another run (FLEET_RUN_ID "
                f"{view.run_id}) while this one watched it; its result is not this run's"
            )
            return TargetResult(target, Status.ERROR, reason=reason, polls=polls)
        if view.terminal and view.owner_unknown:
            reason = (
                "the result Azure shows cannot be told to be this run's (it carries no "
                "exit-code marker of this run); not counted as this run's"
            )
            return TargetResult(target, Status.ERROR, reason=reason, polls=polls)
        if view.terminal:
            return result_from_view(
                target, view, polls, self.secrets, timeout_s=inv.timeout_s,
                success_exit_codes=self.success_exit_codes,
            )  # fmt: skip
        if not started(view) and view.provisioning_state == "Failed":
            reason = (
                "Azure gave up on the VM agent: the run command stayed Pending and its operation "
                "failed (Compute reports VMAgentStatusCommunicationError about 25 minutes after "
                "the request); the script never started"
            )
            return result_from_view(
                target, view, polls, self.secrets, Status.AGENT_NOT_READY, reason
            )
        return None

    def overdue(self, target: Target, seen: Reads, due: Overdue) -> TargetResult:
        """The result of a command still not final when it is overdue."""
        view, polls = seen.view, seen.polls
        if view is None:
            reason = "no readable result before the timeout"
            return TargetResult(target, Status.ERROR, reason=reason, polls=polls)
        if due.started:
            reason = "still Running past its timeout plus grace: the command is wedged"
            return result_from_view(target, view, polls, self.secrets, Status.WEDGED, reason)
        reason = (
            f"still {view.execution_state} {self.pending_timeout_s} s after launch "
            "(pending_timeout): the VM agent did not pick the run command up; it is left on the VM"
        )
        if self.pending_timeout_s < PENDING_TIMEOUT_S:
            reason += ", and Azure may still deliver it until about 25 minutes after the request"
        return result_from_view(target, view, polls, self.secrets, Status.AGENT_NOT_READY, reason)

"""The run's stop/cancel state machine (pure; the engine acts on its transitions).

    RUNNING ──halt (error budget, gate)──► DRAINING (unbounded)  running targets finish
       │                                     │ interrupt
       ├──stop (1st SIGINT/SIGTERM, deadline)┴► DRAINING (bounded)  they get the grace period,
       │                                     │ interrupt             then are left running
       └──stop with cancel_running ──────────┴► CANCELING  in-flight run commands are deleted

Each interrupt (SIGINT/SIGTERM) escalates one step, so a first Ctrl-C stops launching and a
second deletes what is in flight. Launching is allowed only while RUNNING; a reboot a finished
script asked for is still requested while a halt drains, not after a stop. The first reason
that stopped launching is how the run ended (``ended``); later escalations change what happens
to in-flight targets, not that.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum


class Ended(StrEnum):
    COMPLETED = "completed"
    ERROR_BUDGET = "halted-by-error-budget"
    GATE = "halted-by-gate"
    DEADLINE = "deadline"
    CANCELED = "canceled"


class Stage(StrEnum):
    RUNNING = "running"
    DRAINING = "draining"
    CANCELING = "canceling"


NOT_STARTED_REASONS = {
    Ended.ERROR_BUDGET: "error budget exhausted",
    Ended.GATE: "halted by a health gate",
    Ended.DEADLINE: "the run's deadline passed",
    Ended.CANCELED: "the run was canceled",
}


class RunControl:
    """Shared by the engine and whoever can stop the run (signal handlers, a library caller)."""

    def __init__(self, *, cancel_running: bool = False) -> None:
        self.cancel_running = cancel_running
        self.stage = Stage.RUNNING
        self.bounded = False  # DRAINING with a grace period (a stop, not a halt)
        self.ended = Ended.COMPLETED
        self.detail: str | None = None
        self._listeners: list[Callable[[RunControl], None]] = []

    def subscribe(self, listener: Callable[[RunControl], None]) -> None:
        """``listener(self)`` is called after every transition."""
        self._listeners.append(listener)

    @property
    def launching_allowed(self) -> bool:
        return self.stage is Stage.RUNNING

    @property
    def restarts_allowed(self) -> bool:
        """Whether a target whose script asked for a reboot may still be restarted: while the
        run goes on, or drains after a halt (its running targets finish their work); not after
        a stop (Ctrl-C, SIGTERM, the deadline), which sends nothing new."""
        return self.stage is Stage.RUNNING or (self.stage is Stage.DRAINING and not self.bounded)

    @property
    def not_started_reason(self) -> str:
        return NOT_STARTED_REASONS.get(self.ended, "the run stopped")

    def halt(self, reason: Ended, detail: str) -> None:
        """The rollout itself stops (error budget, gate): running targets finish unbounded."""
        if self.stage is Stage.RUNNING:
            self._first(reason, detail)
            self.stage = Stage.DRAINING
            self._changed()

    def stop(self, reason: Ended = Ended.CANCELED, detail: str | None = None) -> None:
        """A stop from outside (signal, deadline): drain within the grace period, or delete
        in-flight run commands at once with ``cancel_running``."""
        if self.stage is Stage.CANCELING:
            return
        self._first(reason, detail)
        if self.cancel_running:
            self.stage = Stage.CANCELING
        elif self.stage is Stage.RUNNING or not self.bounded:
            self.stage, self.bounded = Stage.DRAINING, True
        else:
            return
        self._changed()

    def interrupt(self, detail: str = "interrupted") -> None:
        """A SIGINT/SIGTERM: one step further (stop first, then cancel in-flight targets)."""
        if self.stage is Stage.DRAINING and self.bounded:
            self.cancel()
        else:
            self.stop(Ended.CANCELED, detail)

    def cancel(self) -> None:
        """Delete the in-flight run commands now."""
        if self.stage is not Stage.CANCELING:
            self._first(Ended.CANCELED, "canceled")
            self.stage = Stage.CANCELING
            self._changed()

    def _first(self, reason: Ended, detail: str | None) -> None:
        if self.ended is Ended.COMPLETED:
            self.ended, self.detail = reason, detail

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener(self)

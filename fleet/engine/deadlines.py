"""When a launched run command is overdue (pure): ``Overdue`` follows what the reads saw.

Two clocks, both in engine seconds after launch:

- **Pending** (the VM agent has not picked the command up; ``Unknown`` counts as Pending): the
  run's ``pending_timeout`` — the script's own timeout has not started to run yet. Past it the
  target is ``AgentNotReady``.
- **Started**: the last read that still saw it Pending (launch, if none did) plus the script's
  run limit (its timeout, or 90 minutes for ``timeout: 0``) plus ``wedge_grace_s``. The script
  started after that read, so Azure has killed it by then; still Running = ``Wedged``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet.model import RunView

_NOT_STARTED = ("Pending", "Unknown")


def started(view: RunView) -> bool:
    """Whether the VM agent picked the command up (it has a start time or a later state)."""
    return view.start_time is not None or view.execution_state not in _NOT_STARTED


@dataclass
class Overdue:
    pending_s: float  # pending_timeout, engine seconds
    running_s: float  # run limit + wedge grace, engine seconds
    last_pending: float = 0.0  # the last read that saw it Pending (0 = launch)
    started: bool = False

    def observe(self, view: RunView, at: float) -> None:
        """A read ``at`` engine seconds after launch saw ``view`` (not final)."""
        if started(view):
            self.started = True
        elif not self.started:
            self.last_pending = at

    @property
    def at(self) -> float:
        """Engine seconds after launch at which the target is overdue."""
        return self.last_pending + self.running_s if self.started else self.pending_s

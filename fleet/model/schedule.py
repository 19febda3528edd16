"""When a scheduled job runs: a job's ``schedule:`` section as a frozen ``Schedule`` — a cron
expression in a time zone or a fixed interval (``every``), a jitter, blackout windows in which
nothing is launched, and what to do about fires missed while no scheduler was running.

Never two runs of one job at once: a fire that comes while the job's previous run is still in
flight is skipped and recorded (overlap), whichever scheduler fires it. Times are computed by
``fleet.schedule`` (pure); this module only names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Missed(StrEnum):
    """Fires that fell while no scheduler was running (downtime)."""

    RUN_ONCE = "run-once"  # one run at start, however many fires were missed
    SKIP = "skip"  # record them as skipped, wait for the next fire


@dataclass(frozen=True)
class Blackout:
    """A window in which no run is launched: recurring (a cron expression in the schedule's
    time zone that opens it, and its ``duration_s``) or once (``start`` to ``end``, aware)."""

    cron: str | None = None
    duration_s: int | None = None
    start: datetime | None = None
    end: datetime | None = None

    def describe(self) -> str:
        if self.cron is not None:
            return f"{self.cron} for {self.duration_s} s"
        assert self.start is not None and self.end is not None
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


@dataclass(frozen=True)
class Schedule:
    """Exactly one of ``cron`` (5 fields, in ``timezone``) and ``every_s`` (seconds, aligned to
    the Unix epoch so a restart keeps the same fire times)."""

    cron: str | None = None
    every_s: int | None = None
    timezone: str = "UTC"
    jitter_s: int = 0  # each fire is delayed by a stable pseudo-random 0..jitter_s seconds
    blackouts: tuple[Blackout, ...] = ()
    missed: Missed = Missed.RUN_ONCE

    def describe(self) -> str:
        what = f"cron {self.cron} ({self.timezone})" if self.cron else f"every {self.every_s} s"
        if self.jitter_s:
            what += f", jitter {self.jitter_s} s"
        return what

"""The scheduler's small interface, shared by the embedded scheduler (``fleet.schedule.local``,
what ``fleet serve`` runs) and a distributed one (Temporal Schedules, issue #14):

    Scheduler   run(jobs, launcher) until cancelled; states() for views
    Launcher    what the service gives it: launch(firing) → the run id, or None when the
                job's previous run is still in flight (the fire is skipped: overlap)
    FireLog     where fires are recorded (the last one per job survives a restart, so missed
                fires can be told from new ones)

and the records they exchange: ``ScheduledJob``, ``Firing``, ``FireRecord`` (``FireOutcome``),
``ScheduleState``. Frozen; no I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from fleet.model import Blackout, Schedule


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    schedule: Schedule


@dataclass(frozen=True)
class Firing:
    """A fire handed to the launcher: the nominal time it stands for and when it is due.
    ``missed``: fires missed while no scheduler ran that this one run makes up for."""

    job: str
    nominal: datetime
    due: datetime
    missed: int = 0


class FireOutcome(StrEnum):
    LAUNCHED = "launched"
    LAUNCHED_LATE = "launched-late"  # once, for fires missed while no scheduler ran
    OVERLAP = "skipped-overlap"  # the job's previous run was still in flight
    BLACKOUT = "skipped-blackout"
    MISSED = "missed"  # fell while no scheduler ran (or it was suspended): not run
    LAUNCH_FAILED = "launch-failed"


@dataclass(frozen=True)
class FireRecord:
    """What became of a fire (``nominal``: the fire, or the latest of the missed ones it
    records). ``at``: when it was decided."""

    job: str
    nominal: datetime
    at: datetime
    outcome: FireOutcome
    detail: str = ""
    run_id: str | None = None


@dataclass(frozen=True)
class ScheduleState:
    """A job's schedule as views show it: the next fire, whether a blackout holds now, the
    last fire and the recent ones (newest first)."""

    job: str
    schedule: Schedule
    next_nominal: datetime | None
    next_due: datetime | None
    blackout: Blackout | None
    last: FireRecord | None
    recent: tuple[FireRecord, ...] = ()


class Launcher(Protocol):
    def launch(self, firing: Firing) -> str | None:
        """Start a run for ``firing`` without waiting for it; its run id, or None when the
        job's previous run is still in flight. Raises when the run cannot be started."""
        ...


class FireLog(Protocol):
    def last_nominal(self, job: str) -> datetime | None:
        """The nominal time of the job's last recorded fire."""
        ...

    def record(self, record: FireRecord) -> None: ...

    def recent(self, job: str, limit: int) -> list[FireRecord]:
        """The job's last ``limit`` records, newest first."""
        ...


class Scheduler(Protocol):
    async def run(self, jobs: Sequence[ScheduledJob], launcher: Launcher) -> None:
        """Fire ``jobs`` as their schedules say until cancelled."""
        ...

    def states(self) -> list[ScheduleState]:
        """Every job's schedule state (empty before ``run``)."""
        ...

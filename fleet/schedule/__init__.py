"""When scheduled jobs run: pure schedule arithmetic and the scheduler's small interface.

    timing     next nominal fire (cron in a time zone via croniter, or every N seconds), stable
               jitter, blackout windows, daylight saving time (pure)
    interface  Scheduler, Launcher, FireLog (Protocols); ScheduledJob, Firing, FireRecord,
               FireOutcome, ScheduleState
    local      LocalScheduler: the embedded scheduler of ``fleet serve`` (overlap skip, missed
               fires after downtime, blackouts) on an injectable WallClock
    memory     MemoryFireLog

A distributed scheduler (Temporal Schedules, issue #14) implements the same ``Scheduler``.
Imports only ``fleet.model`` (and croniter, anyio, structlog).
"""

from fleet.schedule.interface import (
    FireLog,
    FireOutcome,
    FireRecord,
    Firing,
    Launcher,
    ScheduledJob,
    Scheduler,
    ScheduleState,
)
from fleet.schedule.local import LocalScheduler, SystemClock, WallClock
from fleet.schedule.memory import MemoryFireLog
from fleet.schedule.timing import blackout_at, due, jitter, next_nominal

__all__ = [
    "FireLog",
    "FireOutcome",
    "FireRecord",
    "Firing",
    "Launcher",
    "LocalScheduler",
    "MemoryFireLog",
    "ScheduleState",
    "ScheduledJob",
    "Scheduler",
    "SystemClock",
    "WallClock",
    "blackout_at",
    "due",
    "jitter",
    "next_nominal",
]

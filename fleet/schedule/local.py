"""The embedded scheduler: one loop that fires every job of one process on time.

On each wake-up, per job, the fires due since the last handled one are settled:

- the latest, if it is due no longer than ``grace`` ago, is *on time*: launched (unless a
  blackout window holds at its due time, or the job's previous run is still in flight: then it
  is skipped and recorded as such);
- older ones were missed — fleet serve was down, suspended or starved. With ``missed:
  run-once`` and no on-time fire, the job runs once now for all of them; otherwise they are
  recorded as one ``missed`` record (however many there were: never a storm of records).

At start the last handled fire comes from the ``FireLog``; a job never fired before starts
with its next fire. Time comes from a ``WallClock`` so tests drive it (no sleeping).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import anyio
import structlog

from fleet.model import Missed
from fleet.schedule.interface import (
    FireLog,
    FireOutcome,
    FireRecord,
    Firing,
    Launcher,
    ScheduledJob,
    ScheduleState,
)
from fleet.schedule.timing import blackout_at, due, next_nominal, previous_nominal

log = structlog.get_logger("fleet.serve")

GRACE = timedelta(seconds=60)  # a fire reached later than this after its due time was missed
TICK_S = 30.0  # the longest sleep: wake-ups re-read the clock (suspend, clock changes)
_MAX_COUNTED = 10_000  # missed cron fires counted one by one at most (then "at least N")
_EPSILON = timedelta(microseconds=1)


class WallClock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time(), UTC)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


@dataclass(frozen=True)
class DueFires:
    """The fires of a job due since its cursor: how many (``exact`` False: at least that
    many), the first, the one before the latest, and the latest."""

    count: int
    first: datetime | None = None
    before_latest: datetime | None = None
    latest: datetime | None = None
    exact: bool = True


def due_fires(job: ScheduledJob, after: datetime, now: datetime) -> DueFires:
    """Fires of ``job`` with a nominal time after ``after`` that are due at ``now``."""
    schedule = job.schedule
    first = next_nominal(schedule, after)
    if due(job.name, schedule, first) > now:
        return DueFires(0)
    latest = previous_nominal(schedule, now)
    while latest > first and due(job.name, schedule, latest) > now:
        latest = previous_nominal(schedule, latest - _EPSILON)
    before = previous_nominal(schedule, latest - _EPSILON) if latest > first else None
    if schedule.every_s is not None:
        count = int((latest - first).total_seconds() // schedule.every_s) + 1
        return DueFires(count, first, before, latest)
    count, nominal = 1, first
    while nominal < latest and count < _MAX_COUNTED:
        nominal = next_nominal(schedule, nominal)
        count += 1
    return DueFires(count, first, before, latest, exact=nominal >= latest)


class LocalScheduler:
    """``Scheduler`` for one process (see the module docstring)."""

    def __init__(
        self, fires: FireLog, clock: WallClock | None = None, *, grace: timedelta = GRACE
    ) -> None:
        self.fires = fires
        self.clock = clock or SystemClock()
        self.grace = grace
        self._jobs: dict[str, ScheduledJob] = {}
        self._cursor: dict[str, datetime] = {}

    async def run(self, jobs: Sequence[ScheduledJob], launcher: Launcher) -> None:
        start = self.clock.now()
        self._jobs = {job.name: job for job in jobs}
        self._cursor = {job.name: self.fires.last_nominal(job.name) or start for job in jobs}
        while True:
            now = self.clock.now()
            for job in jobs:
                self._settle(job, launcher, now)
            await self.clock.sleep(self._sleep_s(now))

    def _sleep_s(self, now: datetime) -> float:
        upcoming = [self._next_due(name) for name in self._jobs]
        wake = min(upcoming, default=now + timedelta(seconds=TICK_S))
        return min(TICK_S, max(0.0, (wake - now).total_seconds()))

    def _next_due(self, name: str) -> datetime:
        job = self._jobs[name]
        return due(name, job.schedule, next_nominal(job.schedule, self._cursor[name]))

    def _settle(self, job: ScheduledJob, launcher: Launcher, now: datetime) -> None:
        fires = due_fires(job, self._cursor[job.name], now)
        if fires.count == 0 or fires.latest is None:
            return
        latest = fires.latest
        on_time = now - due(job.name, job.schedule, latest) <= self.grace
        missed = fires.count - (1 if on_time else 0)
        if missed and not on_time and job.schedule.missed is Missed.RUN_ONCE:
            self._fire(job, launcher, latest, now, missed=missed, first=fires.first)
        else:
            if missed:
                self._record_missed(job, fires, now, on_time=on_time)
            if on_time:
                self._fire(job, launcher, latest, now)
        self._cursor[job.name] = latest

    def _record_missed(
        self, job: ScheduledJob, fires: DueFires, now: datetime, *, on_time: bool
    ) -> None:
        last = fires.before_latest if on_time else fires.latest
        assert fires.first is not None and last is not None
        count = fires.count - (1 if on_time else 0)
        plus = "" if fires.exact else "at least "
        detail = (
            f"{plus}{count} fire(s) missed from {fires.first.isoformat()} to {last.isoformat()} "
            "(fleet serve was not running or not scheduling)"
        )
        self._log(FireRecord(job.name, last, now, FireOutcome.MISSED, detail))

    def _fire(
        self,
        job: ScheduledJob,
        launcher: Launcher,
        nominal: datetime,
        now: datetime,
        *,
        missed: int = 0,
        first: datetime | None = None,
    ) -> None:
        when = due(job.name, job.schedule, nominal)
        outcome = FireOutcome.LAUNCHED_LATE if missed else FireOutcome.LAUNCHED
        detail = ""
        if missed:
            assert first is not None
            detail = f"once for {missed} missed fire(s) since {first.isoformat()}"
        window = blackout_at(job.schedule, now if missed else when)
        if window is not None:
            self._log(FireRecord(job.name, nominal, now, FireOutcome.BLACKOUT, window.describe()))
            return
        try:
            run_id = launcher.launch(Firing(job.name, nominal, when, missed))
        except Exception as exc:  # a run that cannot start must not stop the schedules
            log.exception("schedule.launch_failed", job=job.name)
            self._log(FireRecord(job.name, nominal, now, FireOutcome.LAUNCH_FAILED, str(exc)))
            return
        if run_id is None:
            why = "the previous run of the job is still in flight"
            self._log(FireRecord(job.name, nominal, now, FireOutcome.OVERLAP, why))
            return
        self._log(FireRecord(job.name, nominal, now, outcome, detail, run_id))

    def _log(self, record: FireRecord) -> None:
        self.fires.record(record)
        log.info(
            "schedule.fired", job=record.job, outcome=record.outcome.value,
            nominal=record.nominal.isoformat(), run_id=record.run_id, detail=record.detail,
        )  # fmt: skip

    def states(self) -> list[ScheduleState]:
        now = self.clock.now()
        states = []
        for name, job in self._jobs.items():
            nominal = next_nominal(job.schedule, self._cursor[name])
            recent = tuple(self.fires.recent(name, 20))
            states.append(
                ScheduleState(
                    job=name,
                    schedule=job.schedule,
                    next_nominal=nominal,
                    next_due=due(name, job.schedule, nominal),
                    blackout=blackout_at(job.schedule, now),
                    last=recent[0] if recent else None,
                    recent=recent,
                )
            )
        return states

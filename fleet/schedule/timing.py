"""Pure schedule arithmetic: the next nominal fire time of a ``Schedule`` (cron in its time
zone via croniter, or a fixed interval aligned to the Unix epoch), a fire's stable jitter, and
whether a moment falls in a blackout window. Datetimes in and out are aware; no clock here.

Daylight saving time, as Vixie cron does it (``man 8 cron``): a wall-clock time that does not
exist (spring forward) fires once, at the first moment after the gap (croniter's behaviour:
02:30 becomes 03:00); a wall-clock time that happens twice (fall back) fires once, at its first
occurrence — unless the hour field is a wildcard (``*``, ``*/2``): such jobs run by the hour and
keep their rhythm in real time, so they fire in both occurrences.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from fleet.model import Blackout, Schedule

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_SKIPS = 4  # repeated wall times skipped in a row before giving up (never more than 1)


def zone(schedule: Schedule) -> ZoneInfo:
    return ZoneInfo(schedule.timezone)


def next_nominal(schedule: Schedule, after: datetime) -> datetime:
    """The first nominal fire strictly after ``after`` (UTC)."""
    if schedule.every_s is not None:
        elapsed = (after - _EPOCH).total_seconds()
        periods = int(elapsed // schedule.every_s) + 1
        return _EPOCH + timedelta(seconds=periods * schedule.every_s)
    assert schedule.cron is not None
    return next_cron(schedule.cron, zone(schedule), after)


def next_cron(expression: str, tz: ZoneInfo, after: datetime) -> datetime:
    """The next fire of a 5-field cron ``expression`` in ``tz`` strictly after ``after``."""
    it = croniter(expression, after.astimezone(tz))
    hourly = expression.split()[1].startswith("*")
    for _ in range(_MAX_SKIPS):
        fire: datetime = it.get_next(datetime)
        if hourly or not repeated_wall_time(fire, tz):
            return fire.astimezone(UTC)
    return fire.astimezone(UTC)


def repeated_wall_time(moment: datetime, tz: ZoneInfo) -> bool:
    """Whether ``moment`` is the second occurrence of its wall-clock time (fall back)."""
    local = moment.astimezone(tz)
    first = local.replace(tzinfo=None).replace(tzinfo=tz, fold=0)
    return first.utcoffset() != local.utcoffset()


def previous_cron(expression: str, tz: ZoneInfo, at: datetime) -> datetime:
    """The latest fire of ``expression`` at or before ``at`` (repeated wall times included:
    a blackout window opens at each)."""
    it = croniter(expression, (at + timedelta(microseconds=1)).astimezone(tz))
    fire: datetime = it.get_prev(datetime)
    return fire.astimezone(UTC)


def previous_nominal(schedule: Schedule, at: datetime) -> datetime:
    """The latest nominal fire at or before ``at`` (the inverse of :func:`next_nominal`)."""
    if schedule.every_s is not None:
        elapsed = (at - _EPOCH).total_seconds()
        return _EPOCH + timedelta(seconds=int(elapsed // schedule.every_s) * schedule.every_s)
    assert schedule.cron is not None
    tz, expression = zone(schedule), schedule.cron
    fire = previous_cron(expression, tz, at)
    hourly = expression.split()[1].startswith("*")
    for _ in range(_MAX_SKIPS):
        if hourly or not repeated_wall_time(fire, tz):
            break
        fire = previous_cron(expression, tz, fire - timedelta(microseconds=1))
    return fire


def jitter(job: str, nominal: datetime, jitter_s: int) -> timedelta:
    """A stable pseudo-random delay in [0, ``jitter_s``) for this job's fire at ``nominal``:
    the same after a restart, different between jobs (so they do not all start at once)."""
    if jitter_s <= 0:
        return timedelta(0)
    digest = hashlib.sha256(f"{job}\0{nominal.astimezone(UTC).isoformat()}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return timedelta(seconds=round(fraction * jitter_s, 3))


def due(job: str, schedule: Schedule, nominal: datetime) -> datetime:
    """When the fire at ``nominal`` launches: nominal plus its jitter."""
    return nominal + jitter(job, nominal, schedule.jitter_s)


def blackout_at(schedule: Schedule, at: datetime) -> Blackout | None:
    """The blackout window ``at`` falls in, if any (windows include their start, not their
    end)."""
    for window in schedule.blackouts:
        if _holds(schedule, window, at):
            return window
    return None


def _holds(schedule: Schedule, window: Blackout, at: datetime) -> bool:
    if window.cron is not None and window.duration_s is not None:
        opened = previous_cron(window.cron, zone(schedule), at)
        return at - opened < timedelta(seconds=window.duration_s)
    if window.start is not None and window.end is not None:
        return window.start <= at < window.end
    return False

"""Schedule arithmetic: cron in a time zone (croniter), every N seconds, jitter, blackouts and
daylight saving time changes — pure functions, no clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fleet.model import Blackout, Schedule
from fleet.schedule import blackout_at, due, jitter, next_nominal

PARIS = ZoneInfo("Europe/Paris")


def fires(schedule: Schedule, start: datetime, count: int) -> list[datetime]:
    out, moment = [], start
    for _ in range(count):
        moment = next_nominal(schedule, moment)
        out.append(moment)
    return out


def local(moments: list[datetime], tz: ZoneInfo = PARIS) -> list[str]:
    return [m.astimezone(tz).strftime("%m-%d %H:%M%z") for m in moments]


def test_every_is_aligned_to_the_epoch_and_strictly_after() -> None:
    every = Schedule(every_s=15 * 60)
    start = datetime(2025, 6, 1, 10, 7, 30, tzinfo=UTC)
    assert fires(every, start, 3) == [
        datetime(2025, 6, 1, 10, 15, tzinfo=UTC),
        datetime(2025, 6, 1, 10, 30, tzinfo=UTC),
        datetime(2025, 6, 1, 10, 45, tzinfo=UTC),
    ]
    on_the_dot = datetime(2025, 6, 1, 10, 15, tzinfo=UTC)
    assert next_nominal(every, on_the_dot) == datetime(2025, 6, 1, 10, 30, tzinfo=UTC)
    assert next_nominal(Schedule(every_s=5), on_the_dot) == on_the_dot + timedelta(seconds=5)


def test_cron_in_a_time_zone_keeps_local_time_across_a_dst_change() -> None:
    nine = Schedule(cron="0 9 * * *", timezone="Europe/Paris")
    got = fires(nine, datetime(2025, 3, 28, 12, tzinfo=UTC), 4)
    assert local(got) == [
        "03-29 09:00+0100",
        "03-30 09:00+0200",
        "03-31 09:00+0200",
        "04-01 09:00+0200",
    ]
    assert got[0].hour == 8 and got[1].hour == 7  # UTC moves, local time does not


def test_spring_forward_a_time_that_does_not_exist_fires_once_after_the_gap() -> None:
    daily = Schedule(cron="30 2 * * *", timezone="Europe/Paris")
    got = fires(daily, datetime(2025, 3, 29, 12, tzinfo=UTC), 2)
    assert local(got) == ["03-30 03:00+0200", "03-31 02:30+0200"]


def test_fall_back_a_fixed_time_fires_once_an_hourly_rhythm_keeps_going() -> None:
    daily = Schedule(cron="30 2 * * *", timezone="Europe/Paris")
    got = fires(daily, datetime(2025, 10, 25, 12, tzinfo=UTC), 2)
    assert local(got) == ["10-26 02:30+0200", "10-27 02:30+0100"]  # not 10-26 02:30+0100
    half_hourly = Schedule(cron="*/30 * * * *", timezone="Europe/Paris")
    got = fires(half_hourly, datetime(2025, 10, 25, 23, 45, tzinfo=UTC), 5)
    assert local(got) == [
        "10-26 02:00+0200", "10-26 02:30+0200", "10-26 02:00+0100", "10-26 02:30+0100",
        "10-26 03:00+0100",
    ]  # fmt: skip
    assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(got))


def test_jitter_is_stable_bounded_and_differs_between_jobs_and_fires() -> None:
    nominal = datetime(2025, 6, 1, 10, tzinfo=UTC)
    later = nominal + timedelta(minutes=15)
    offsets = {jitter(job, at, 30) for job in ("a", "b", "c") for at in (nominal, later)}
    assert len(offsets) == 6
    assert all(timedelta(0) <= o < timedelta(seconds=30) for o in offsets)
    assert jitter("a", nominal, 30) == jitter("a", nominal, 30)
    assert jitter("a", nominal, 0) == timedelta(0)
    schedule = Schedule(every_s=900, jitter_s=30)
    assert due("a", schedule, nominal) == nominal + jitter("a", nominal, 30)


def test_blackout_windows_recurring_and_once() -> None:
    weekend = Blackout(cron="0 22 * * FRI", duration_s=56 * 3600)  # Fri 22:00 to Mon 06:00
    freeze = Blackout(
        start=datetime(2025, 12, 24, tzinfo=PARIS), end=datetime(2025, 12, 26, 12, tzinfo=PARIS)
    )
    schedule = Schedule(every_s=600, timezone="Europe/Paris", blackouts=(weekend, freeze))

    def at(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime:
        return datetime(2025, month, day, hour, minute, tzinfo=PARIS)

    assert blackout_at(schedule, at(6, 21, 59)) is None  # Friday 6 June, before
    assert blackout_at(schedule, at(6, 22)) is weekend  # the window includes its start
    assert blackout_at(schedule, at(8, 12)) is weekend  # Sunday
    assert blackout_at(schedule, at(9, 5, 59)) is weekend
    assert blackout_at(schedule, at(9, 6)) is None  # Monday 06:00: its end is not in it
    assert blackout_at(schedule, at(25, 12, month=12)) is freeze
    assert blackout_at(schedule, at(26, 12, month=12)) is None  # Friday noon

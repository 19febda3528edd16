"""The embedded scheduler on a virtual clock (nothing sleeps): fires on time, jitter, blackout
skips, overlap skips (never two runs of one job at once), missed fires after downtime (run once
or skip), a suspended process, a launch that fails, and several jobs at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleet.model import Blackout, Missed, Schedule
from fleet.schedule import FireOutcome, FireRecord, MemoryFireLog, ScheduledJob
from tests.schedule.vclock import FakeLauncher, VirtualClock, drive

T0 = datetime(2025, 6, 2, 10, 0, 0, tzinfo=UTC)  # a Monday


def outcomes(log: MemoryFireLog, job: str = "check") -> list[tuple[str, FireOutcome]]:
    return [(r.nominal.strftime("%H:%M:%S"), r.outcome) for r in log.records[job]]


def test_every_fires_on_time_and_each_fire_is_recorded_with_its_run() -> None:
    clock = VirtualClock(T0 + timedelta(seconds=1), T0 + timedelta(seconds=61))
    launcher = FakeLauncher(clock)
    log = MemoryFireLog()
    drive([ScheduledJob("check", Schedule(every_s=10))], log, clock, launcher)
    assert [f.nominal for f in launcher.launched] == [
        T0 + timedelta(seconds=s) for s in (10, 20, 30, 40, 50, 60)
    ]
    assert {r.outcome for r in log.records["check"]} == {FireOutcome.LAUNCHED}
    assert [r.run_id for r in log.records["check"]] == [f"run-{i}" for i in range(1, 7)]
    assert all(r.at == r.nominal for r in log.records["check"])  # the clock is exact


def test_jitter_delays_each_launch_within_its_bound() -> None:
    clock = VirtualClock(T0 + timedelta(seconds=1), T0 + timedelta(minutes=10))
    launcher = FakeLauncher(clock)
    log = MemoryFireLog()
    drive([ScheduledJob("check", Schedule(every_s=60, jitter_s=20))], log, clock, launcher)
    delays = [(r.at - r.nominal).total_seconds() for r in log.records["check"]]
    assert len(delays) == 9 and len(set(delays)) > 1
    assert all(0 <= d < 20 for d in delays)
    assert [f.due for f in launcher.launched] == [r.at for r in log.records["check"]]


def test_fires_in_a_blackout_are_skipped_and_recorded() -> None:
    lunch = Blackout(cron="30 10 * * *", duration_s=20 * 60)  # 10:30 to 10:50 UTC
    schedule = Schedule(every_s=600, blackouts=(lunch,))
    clock = VirtualClock(T0 + timedelta(seconds=1), T0 + timedelta(hours=1, seconds=1))
    launcher = FakeLauncher(clock)
    log = MemoryFireLog()
    drive([ScheduledJob("check", schedule)], log, clock, launcher)
    assert outcomes(log) == [
        ("10:10:00", FireOutcome.LAUNCHED),
        ("10:20:00", FireOutcome.LAUNCHED),
        ("10:30:00", FireOutcome.BLACKOUT),
        ("10:40:00", FireOutcome.BLACKOUT),
        ("10:50:00", FireOutcome.LAUNCHED),
        ("11:00:00", FireOutcome.LAUNCHED),
    ]
    assert log.records["check"][2].detail == "30 10 * * * for 1200 s"


def test_a_fire_while_the_previous_run_is_in_flight_is_skipped_never_run_twice() -> None:
    clock = VirtualClock(T0 + timedelta(seconds=1), T0 + timedelta(seconds=101))
    launcher = FakeLauncher(clock, run_s=25)  # each run outlasts two fires
    log = MemoryFireLog()
    drive([ScheduledJob("check", Schedule(every_s=10))], log, clock, launcher)
    assert outcomes(log) == [
        ("10:00:10", FireOutcome.LAUNCHED),
        ("10:00:20", FireOutcome.OVERLAP),
        ("10:00:30", FireOutcome.OVERLAP),
        ("10:00:40", FireOutcome.LAUNCHED),
        ("10:00:50", FireOutcome.OVERLAP),
        ("10:01:00", FireOutcome.OVERLAP),
        ("10:01:10", FireOutcome.LAUNCHED),
        ("10:01:20", FireOutcome.OVERLAP),
        ("10:01:30", FireOutcome.OVERLAP),
        ("10:01:40", FireOutcome.LAUNCHED),
    ]
    assert "still in flight" in log.records["check"][1].detail


def downtime_log(last: datetime) -> MemoryFireLog:
    log = MemoryFireLog()
    log.record(FireRecord("check", last, last, FireOutcome.LAUNCHED, run_id="before"))
    return log


def test_after_downtime_missed_fires_run_once() -> None:
    log = downtime_log(T0)  # the last fire before the service went down
    start = T0 + timedelta(hours=1, minutes=5)  # six fires (10:10 … 11:00) were missed
    clock = VirtualClock(start, start + timedelta(minutes=10))
    launcher = FakeLauncher(clock)
    drive([ScheduledJob("check", Schedule(every_s=600))], log, clock, launcher)
    assert outcomes(log)[1:] == [
        ("11:00:00", FireOutcome.LAUNCHED_LATE),
        ("11:10:00", FireOutcome.LAUNCHED),
    ]
    late = log.records["check"][1]
    assert late.at == start and launcher.launched[0].missed == 6
    assert late.detail == "once for 6 missed fire(s) since 2025-06-02T10:10:00+00:00"


def test_after_downtime_missed_fires_are_skipped_when_the_job_says_so() -> None:
    log = downtime_log(T0)
    start = T0 + timedelta(hours=1, minutes=5)
    clock = VirtualClock(start, start + timedelta(minutes=10))
    launcher = FakeLauncher(clock)
    schedule = Schedule(every_s=600, missed=Missed.SKIP)
    drive([ScheduledJob("check", schedule)], log, clock, launcher)
    assert outcomes(log)[1:] == [
        ("11:00:00", FireOutcome.MISSED),
        ("11:10:00", FireOutcome.LAUNCHED),
    ]
    assert log.records["check"][1].detail.startswith(
        "6 fire(s) missed from 2025-06-02T10:10:00+00:00 to 2025-06-02T11:00:00+00:00"
    )


def test_a_restart_within_the_grace_period_launches_the_fire_on_time() -> None:
    log = downtime_log(T0)
    start = T0 + timedelta(minutes=10, seconds=20)  # 20 s after the 10:10 fire was due
    clock = VirtualClock(start, start + timedelta(seconds=1))
    launcher = FakeLauncher(clock)
    drive([ScheduledJob("check", Schedule(every_s=600, missed=Missed.SKIP))], log, clock, launcher)
    assert outcomes(log)[1:] == [("10:10:00", FireOutcome.LAUNCHED)]


def test_a_job_never_fired_before_waits_for_its_next_fire() -> None:
    start = T0 + timedelta(minutes=5)
    clock = VirtualClock(start, start + timedelta(minutes=6))
    launcher = FakeLauncher(clock)
    log = MemoryFireLog()
    drive([ScheduledJob("check", Schedule(every_s=600))], log, clock, launcher)
    assert outcomes(log) == [("10:10:00", FireOutcome.LAUNCHED)]


def test_a_suspended_process_records_the_fires_it_slept_through_as_one_record() -> None:
    clock = VirtualClock(T0 + timedelta(seconds=1), T0 + timedelta(hours=2))
    clock.jumps[T0 + timedelta(minutes=15)] = timedelta(minutes=50)  # a laptop lid, closed
    launcher = FakeLauncher(clock)
    log = MemoryFireLog()
    drive([ScheduledJob("check", Schedule(every_s=600, missed=Missed.SKIP))], log, clock, launcher)
    got = outcomes(log)
    assert got[:2] == [("10:10:00", FireOutcome.LAUNCHED), ("11:00:00", FireOutcome.MISSED)]
    assert got[2:] == [
        (f"{h}:{m}0:00", FireOutcome.LAUNCHED)
        for h, m in [(11, 1), (11, 2), (11, 3), (11, 4), (11, 5)]
    ]
    assert log.records["check"][1].detail.startswith("5 fire(s) missed from")


def test_a_launch_that_fails_is_recorded_and_the_schedule_goes_on() -> None:
    clock = VirtualClock(T0 + timedelta(seconds=1), T0 + timedelta(seconds=31))
    launcher = FakeLauncher(clock, fail=True)
    log = MemoryFireLog()
    drive([ScheduledJob("check", Schedule(every_s=10))], log, clock, launcher)
    assert [o for _, o in outcomes(log)] == [FireOutcome.LAUNCH_FAILED] * 3
    assert log.records["check"][0].detail == "the spec cannot be read"


def test_several_jobs_and_their_states() -> None:
    clock = VirtualClock(T0 + timedelta(seconds=1), T0 + timedelta(minutes=30, seconds=1))
    launcher = FakeLauncher(clock)
    log = MemoryFireLog()
    jobs = [
        ScheduledJob("fast", Schedule(every_s=300)),
        ScheduledJob("slow", Schedule(cron="*/15 * * * *", timezone="America/New_York")),
    ]
    scheduler = drive(jobs, log, clock, launcher)
    assert len(log.records["fast"]) == 6 and len(log.records["slow"]) == 2
    states = {s.job: s for s in scheduler.states()}
    assert states["fast"].next_nominal == T0 + timedelta(minutes=35)
    assert states["slow"].next_nominal == T0 + timedelta(minutes=45)
    assert states["slow"].last is not None and states["slow"].last.run_id is not None
    assert states["fast"].recent[0].nominal == T0 + timedelta(minutes=30)  # newest first

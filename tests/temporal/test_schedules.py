"""Job schedules on Temporal Schedules: the server fires the job (a fire workflow prepares the
plan on a worker and runs it), a fire while the job's run is still in flight is skipped and
recorded as an overlap, a blackout window holds a fire back, and the fleet schedules of the
namespace follow the served jobs."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
import pytest
from temporalio.service import RPCError, RPCStatusCode

from fleet.schedule import FireOutcome, MemoryFireLog, ScheduledJob
from fleet.spec import load_job
from fleet.spec.portable import portable
from fleet.temporal import names
from fleet.temporal.client import RunSettings, runs
from fleet.temporal.schedules import TemporalScheduler, sync_schedules, temporal_schedule
from tests import simkit
from tests.temporal.conftest import Space
from tests.temporal.harness import on_temporal

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]
SCALE = 20.0


def slow_pair() -> object:
    script = {"pending": {"median": 2}, "duration": {"median": 60, "sigma": 0.2, "min": 5},
              "unknown": "generic"}  # fmt: skip
    return simkit.profile("pair", script=script)


def scheduled_job(tmp: Path, name: str, schedule: str) -> tuple[ScheduledJob, dict[str, object]]:
    path = tmp / f"{name}.yaml"
    path.write_text(
        f"name: {name}\ntargets: {{names: ['east-0*']}}\n"
        f"script: {{inline: echo checking, timeout: 600}}\nschedule: {schedule}\n"
    )
    parsed = load_job(path)
    assert parsed.spec.schedule is not None
    return ScheduledJob(name, parsed.spec.schedule), portable(parsed.document).to_json()


async def until(what: str, check: Callable[[], bool], limit: float = 120) -> None:
    """Poll ``check`` (the scheduler records what the server did on its own schedule)."""
    with anyio.fail_after(limit):
        while not check():  # noqa: ASYNC110 - polling another component's state
            await anyio.sleep(0.2)


async def test_a_schedule_fires_through_temporal_and_skips_on_overlap(
    space: Space, tmp_path: Path
) -> None:
    job, document = scheduled_job(tmp_path, "every2", "{every: 2s}")  # runs take ~3 s here
    fires = MemoryFireLog()

    def seen(outcome: FireOutcome) -> int:
        return sum(r.outcome is outcome for r in fires.records["every2"])

    async with on_temporal(space, slow_pair(), time_scale=SCALE) as fleet:  # type: ignore[arg-type]
        scheduler = TemporalScheduler(fleet.client, {"every2": document}, fires, RunSettings(SCALE))
        async with anyio.create_task_group() as tg:
            tg.start_soon(scheduler.run, [job], None)
            await until("two runs and an overlap", lambda: seen(FireOutcome.LAUNCHED) >= 2
                        and seen(FireOutcome.OVERLAP) >= 1)  # fmt: skip
            state = scheduler.states()[0]
            tg.cancel_scope.cancel()
        done = await runs(fleet.client, job="every2")
        truth = await simkit.ground_truth(fleet.emu, "executions")
    launched = [r for r in fires.records["every2"] if r.outcome is FireOutcome.LAUNCHED]
    finished = [r for r in done if r.ended_at is not None]
    assert {r.run_id for r in launched} <= {r.run_id for r in done}
    assert all(r.ended == "completed" for r in finished)
    spans = sorted((r.started_at, r.ended_at or datetime.max.replace(tzinfo=UTC)) for r in done)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # never two at once
    assert state.next_nominal is not None and state.last is not None
    executed = [jobs.get("fleet-every2", 0) for jobs in truth["executed_per_target"].values()]
    assert max(executed) <= len(done) and min(executed) >= len(finished)


async def test_a_fire_in_a_blackout_window_runs_nothing(space: Space, tmp_path: Path) -> None:
    start = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    end = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    window = f"{{every: 1h, blackout: [{{start: '{start}', end: '{end}'}}]}}"
    job, document = scheduled_job(tmp_path, "quiet", window)
    fires = MemoryFireLog()
    async with on_temporal(space, simkit.profile("pair"), time_scale=SCALE) as fleet:
        scheduler = TemporalScheduler(fleet.client, {"quiet": document}, fires, RunSettings(SCALE))
        async with anyio.create_task_group() as tg:
            tg.start_soon(scheduler.run, [job], None)
            await until("the schedule", lambda: bool(scheduler.states()))
            await fleet.client.get_schedule_handle(names.schedule_id("quiet")).trigger()
            await until("the fire", lambda: bool(fires.records["quiet"]))
            tg.cancel_scope.cancel()
        done = await runs(fleet.client, job="quiet")
    [record] = fires.records["quiet"]
    assert record.outcome is FireOutcome.BLACKOUT and "blackout window" in record.detail
    assert done == []


async def test_the_namespaces_fleet_schedules_follow_the_served_jobs(
    space: Space, tmp_path: Path
) -> None:
    a, doc_a = scheduled_job(tmp_path, "job-a", "{cron: '0 3 * * *', timezone: Europe/Paris}")
    b, doc_b = scheduled_job(tmp_path, "job-b", "{every: 1h}")
    settings = RunSettings()
    from fleet.temporal.connection import connect

    client = await connect(space.target, space.namespace)
    await sync_schedules(client, {
        "job-a": temporal_schedule("job-a", a.schedule, doc_a, settings),
        "job-b": temporal_schedule("job-b", b.schedule, doc_b, settings),
    })  # fmt: skip
    # the pruning sync lists the namespace's schedules, and the listing lags behind a create
    # (visibility is eventually consistent): prune once both are listed, as a service would
    both = {names.schedule_id("job-a"), names.schedule_id("job-b")}
    with anyio.fail_after(60):
        while not both <= {s.id async for s in await client.list_schedules()}:  # noqa: ASYNC110
            await anyio.sleep(0.2)
    await sync_schedules(client, {"job-a": temporal_schedule("job-a", a.schedule, doc_a, settings)})
    with pytest.raises(RPCError) as gone:  # the listing is eventually consistent; this is not
        await client.get_schedule_handle(names.schedule_id("job-b")).describe()
    assert gone.value.status is RPCStatusCode.NOT_FOUND
    described = await client.get_schedule_handle(names.schedule_id("job-a")).describe()
    assert described.schedule.spec.time_zone_name == "Europe/Paris"
    paris = described.info.next_action_times[0].astimezone(ZoneInfo("Europe/Paris"))
    assert (paris.hour, paris.minute) == (3, 0)  # the cron, in its time zone
    assert described.schedule.policy.overlap.name == "SKIP"

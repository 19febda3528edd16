"""Job schedules as Temporal Schedules (``fleet serve --temporal``): the server fires them, so a
scheduled check goes on when any fleet process is lost.

One Temporal Schedule per job (id ``fleet-schedule-<job>``) starts a ``FireWorkflow`` with the
job's ``PortableJob``:

    cron + timezone   ScheduleSpec(cron_expressions, time_zone_name)
    every             ScheduleSpec(intervals) — aligned to the epoch, as fleet's own scheduler
    jitter            ScheduleSpec(jitter)
    overlap           always SKIP: a fire while the job's run (its fire workflow, which waits
                      for the run) is still in flight is skipped, and counted by the server
    missed: run-once  catch-up window of a year: after the server was down the missed fires are
                      caught up, the first runs and the others are skipped as overlaps — once
    missed: skip      catch-up window of a minute (fleet's own grace for a late fire)
    blackout          the fire workflow's ``prepare`` says so, and nothing runs

``sync_schedules`` makes the server's schedules those of the served jobs (and deletes the
ones of jobs no longer served). ``TemporalScheduler`` is the ``fleet.schedule.Scheduler`` of
``fleet serve --temporal``: it syncs, then follows the schedules — next fires for views, and a
``FireRecord`` in the ``FireLog`` for each fire that ended (launched, blackout, failed) and each
overlap skip the server counted. It starts nothing itself: the server does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
)
from temporalio.service import RPCError, RPCStatusCode

from fleet.model import Missed
from fleet.model import Schedule as JobSchedule
from fleet.schedule import (
    FireLog,
    FireOutcome,
    FireRecord,
    Launcher,
    ScheduledJob,
    ScheduleState,
    blackout_at,
)
from fleet.schedule.timing import previous_nominal
from fleet.temporal import names
from fleet.temporal.client import RunSettings
from fleet.temporal.codec import Json

log = structlog.get_logger("fleet.temporal")

SCHEDULE_PREFIX = names.schedule_id("")
CATCH_UP_ONCE = timedelta(days=365)
CATCH_UP_NONE = timedelta(minutes=1)
RECENT = 20  # fire records per job a view shows


def schedule_spec(schedule: JobSchedule) -> ScheduleSpec:
    jitter = timedelta(seconds=schedule.jitter_s) if schedule.jitter_s else None
    if schedule.every_s is not None:
        every = [ScheduleIntervalSpec(every=timedelta(seconds=schedule.every_s))]
        return ScheduleSpec(intervals=every, jitter=jitter)
    assert schedule.cron is not None
    return ScheduleSpec(
        cron_expressions=[schedule.cron], time_zone_name=schedule.timezone, jitter=jitter
    )


def temporal_schedule(
    job: str, schedule: JobSchedule, portable: Json, settings: RunSettings
) -> Schedule:
    """The Temporal Schedule of ``job``: its spec, SKIP on overlap, the catch-up window
    ``missed`` asks for, and a fire workflow with the job as its action."""
    catch_up = CATCH_UP_ONCE if schedule.missed is Missed.RUN_ONCE else CATCH_UP_NONE
    action = ScheduleActionStartWorkflow(
        names.FIRE_WORKFLOW, {"job": portable, "settings": settings.to_json()},
        id=names.fire_workflow_id(job), task_queue=names.CONTROL_QUEUE,
        task_timeout=names.WORKFLOW_TASK_TIMEOUT,
    )  # fmt: skip
    policy = SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=catch_up)
    return Schedule(action=action, spec=schedule_spec(schedule), policy=policy)


async def sync_schedules(
    client: Client, wanted: Mapping[str, Schedule], *, prune: bool = True
) -> None:
    """Make the namespace's fleet schedules ``wanted`` (job name → schedule): create or update
    each; with ``prune``, delete the fleet schedules of other jobs."""
    have = {s.id async for s in await client.list_schedules() if s.id.startswith(SCHEDULE_PREFIX)}
    for job, schedule in wanted.items():
        sid = names.schedule_id(job)
        try:
            await client.create_schedule(sid, schedule)
            log.info("schedule.created", job=job)
        except ScheduleAlreadyRunningError:
            await client.get_schedule_handle(sid).update(_replace_with(schedule))
            log.info("schedule.updated", job=job)
    if prune:
        for stale in have - {names.schedule_id(job) for job in wanted}:
            try:
                await client.get_schedule_handle(stale).delete()
            except RPCError as exc:  # the listing lags: deleted meanwhile
                if exc.status is not RPCStatusCode.NOT_FOUND:
                    raise
            log.info("schedule.deleted", schedule=stale)


def _replace_with(schedule: Schedule) -> Any:
    def update(_input: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    return update


@dataclass
class _Followed:
    job: ScheduledJob
    since: datetime | None  # the last fire the log had when this process began following
    next_fire: datetime | None = None
    skipped: int | None = None  # the server's count of overlap skips, as last read
    recorded: set[str] = field(default_factory=set)  # fire workflows recorded since


class TemporalScheduler:
    """``fleet.schedule.Scheduler`` on Temporal Schedules (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        jobs: Mapping[str, Json],
        fires: FireLog,
        settings: RunSettings,
        *,
        poll_s: float = 2.0,
    ) -> None:
        """``jobs``: each served job's ``PortableJob`` (JSON), by name."""
        self.client, self.jobs, self.fires, self.settings = client, jobs, fires, settings
        self.poll_s = poll_s
        self._followed: dict[str, _Followed] = {}

    async def run(self, jobs: Sequence[ScheduledJob], launcher: Launcher) -> None:
        """Sync the schedules, then follow them until cancelled. ``launcher`` is never called:
        Temporal starts the runs, on the workers."""
        del launcher
        wanted = {
            j.name: temporal_schedule(j.name, j.schedule, self.jobs[j.name], self.settings)
            for j in jobs
        }
        await sync_schedules(self.client, wanted)
        self._followed = {j.name: _Followed(j, self.fires.last_nominal(j.name)) for j in jobs}
        while True:
            for followed in self._followed.values():
                try:
                    await self._refresh(followed)
                except RPCError as exc:  # the server is away: try again next round
                    log.warning("schedule.unreadable", job=followed.job.name, error=str(exc))
            await anyio.sleep(self.poll_s)

    def states(self) -> list[ScheduleState]:
        now = datetime.now(UTC)
        states = []
        for f in self._followed.values():
            recent = self.fires.recent(f.job.name, RECENT)
            states.append(
                ScheduleState(
                    job=f.job.name, schedule=f.job.schedule, next_nominal=f.next_fire,
                    next_due=f.next_fire, blackout=blackout_at(f.job.schedule, now),
                    last=recent[0] if recent else None, recent=tuple(recent),
                )
            )  # fmt: skip
        return states

    async def _refresh(self, followed: _Followed) -> None:
        job = followed.job
        handle = self.client.get_schedule_handle(names.schedule_id(job.name))
        info = (await handle.describe()).info
        followed.next_fire = info.next_action_times[0] if info.next_action_times else None
        now = datetime.now(UTC)
        if followed.skipped is not None and info.num_actions_skipped_overlap > followed.skipped:
            detail = "the job's previous run was still in flight"
            for _ in range(info.num_actions_skipped_overlap - followed.skipped):
                nominal = previous_nominal(job.schedule, now)
                self.fires.record(FireRecord(job.name, nominal, now, FireOutcome.OVERLAP, detail))
        followed.skipped = info.num_actions_skipped_overlap
        await self._record_fires(followed)

    async def _record_fires(self, followed: _Followed) -> None:
        """A ``FireRecord`` for each of the job's fire workflows that ended since."""
        job, since = followed.job.name, followed.since
        query = f"WorkflowType = '{names.FIRE_WORKFLOW}' AND ExecutionStatus != 'Running'"
        prefix = names.fire_workflow_id(job) + "-"
        async for execution in self.client.list_workflows(query, limit=100):
            if not execution.id.startswith(prefix) or execution.id in followed.recorded:
                continue
            nominal = fire_time(execution.id, prefix) or execution.start_time
            if since is not None and nominal <= since:
                followed.recorded.add(execution.id)
                continue
            record = await self._fire_record(job, nominal, execution)
            self.fires.record(record)
            followed.recorded.add(execution.id)

    async def _fire_record(self, job: str, nominal: datetime, execution: Any) -> FireRecord:
        at = execution.close_time or datetime.now(UTC)
        if execution.status is not WorkflowExecutionStatus.COMPLETED:
            status = execution.status.name.lower() if execution.status else "unknown"
            return FireRecord(job, nominal, at, FireOutcome.LAUNCH_FAILED, f"the fire {status}")
        answer = await self.client.get_workflow_handle(execution.id).result()
        if answer.get("outcome") == FireOutcome.BLACKOUT.value:
            return FireRecord(job, nominal, at, FireOutcome.BLACKOUT, answer.get("detail", ""))
        return FireRecord(job, nominal, at, FireOutcome.LAUNCHED, run_id=answer.get("run_id"))


def fire_time(workflow_id: str, prefix: str) -> datetime | None:
    """When a scheduled fire was due: the server names its workflow ``<action id>-<RFC 3339>``."""
    try:
        return datetime.fromisoformat(workflow_id[len(prefix) :].replace("Z", "+00:00"))
    except ValueError:
        return None

"""``fleet serve --temporal``'s runs (``TemporalRuns``): the jobs' schedules live on Temporal
(``fleet.temporal.schedules``) and the workers run every fire; this side keeps the service's
views whole — each scheduled run that ended on Temporal is recorded in the service's journal
(its targets, results and report, with its own start and end times), once, and handed to the
service (``recorded``), which evaluates it (regressions, alerts) as it would a run of its own.

Lose the service, and the schedules fire and the runs run all the same; start it again (here or
on another machine with the same state directory), and it records the runs that ended meanwhile.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

import anyio
import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from fleet.errors import FleetError, UnknownRun
from fleet.journal import Journal
from fleet.journal.codec import parse_iso
from fleet.journal.records import PlannedTarget
from fleet.model import JobSpec, RunReport
from fleet.report.json_report import report_to_dict
from fleet.schedule import FireLog
from fleet.temporal import names
from fleet.temporal.client import RunSettings
from fleet.temporal.codec import Json, report_from_json
from fleet.temporal.connection import connect
from fleet.temporal.schedules import TemporalScheduler

log = structlog.get_logger("fleet.temporal")

Recorded = Callable[[str, str, datetime], Awaitable[None]]  # (job, run id, nominal fire time)
RECENT_RUNS = 200  # finished runs looked at per round (newest first)


class TemporalRuns:
    """What ``fleet serve`` needs of Temporal (``fleet.serve.service.RemoteRuns``)."""

    def __init__(
        self,
        target: str,
        namespace: str,
        jobs: Mapping[str, tuple[JobSpec, Json]],
        settings: RunSettings,
        *,
        poll_s: float = 2.0,
    ) -> None:
        """``jobs``: each served job's spec and ``PortableJob`` (JSON), by name."""
        self.target, self.namespace, self.jobs, self.settings = target, namespace, jobs, settings
        self.poll_s = poll_s
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        assert self._client is not None, "connect() first"
        return self._client

    async def connect(self) -> None:
        self._client = await connect(self.target, self.namespace)

    def scheduler(self, fires: FireLog) -> TemporalScheduler:
        documents = {name: document for name, (_spec, document) in self.jobs.items()}
        return TemporalScheduler(self.client, documents, fires, self.settings, poll_s=self.poll_s)

    async def follow(self, journal: Journal, recorded: Recorded) -> None:
        """Record each scheduled run that ended on Temporal, until cancelled."""
        while True:
            try:
                await self._round(journal, recorded)
            except (RPCError, FleetError) as exc:  # the server away, a journal hiccup: retry
                log.warning("runs.follow_failed", error=str(exc))
            await anyio.sleep(self.poll_s)

    async def _round(self, journal: Journal, recorded: Recorded) -> None:
        query = f"WorkflowType = '{names.RUN_WORKFLOW}' AND ExecutionStatus = 'Completed'"
        async for execution in self.client.list_workflows(query, limit=RECENT_RUNS):
            run_id = names.run_id_of(execution.id)
            memo = await execution.memo()
            job = str(memo.get("job"))
            if run_id is None or not memo.get("scheduled") or job not in self.jobs:
                continue
            if _known(journal, run_id):
                continue
            raw = await self.client.get_workflow_handle(execution.id).result()
            report = report_from_json(raw)
            record = functools.partial(
                record_run, journal, self.jobs[job][0], report, who=f"temporal {self.namespace}"
            )
            await anyio.to_thread.run_sync(record)
            nominal = parse_iso(memo.get("nominal")) or report.started_at
            log.info("run.recorded", job=job, run_id=run_id, ended=report.ended)
            await recorded(job, run_id, nominal)


def _known(journal: Journal, run_id: str) -> bool:
    try:
        journal.run(run_id)
    except UnknownRun:
        return False
    return True


def record_run(journal: Journal, spec: JobSpec, report: RunReport, *, who: str) -> None:
    """Record a run that ended elsewhere as this journal records its own: its targets (in
    their batches), final results, end and report, at the run's own times."""
    batch_of: dict[str, int] = {}
    if report.rollout is not None:
        batch_of = {i: b.index for b in report.rollout.batches for i in b.target_ids}
    planned = [PlannedTarget(r.target, batch_of.get(r.target.id, 0)) for r in report.results]
    writer = journal.begin_run(report.run_id, spec, planned, who=who, at=report.started_at)
    with writer:
        writer.finals(report.results)
        document = report_to_dict(report)
        writer.end(report.ended, document["summary"], document, at=report.finished_at)

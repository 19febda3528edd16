"""Scheduled runs: each fire becomes an ordinary journaled run through ``fleet.api`` (prepare,
then run with the job's recipe), on the one backend every job shares, so all jobs of a
subscription draw on one throttle budget. The ``Launcher`` the scheduler calls.

Never two runs of one job at once: a fire while the job's run (or a resumed one) is in flight
is refused (the scheduler records the overlap). The run id is chosen and noted in the service
store *before* the run is journaled, so a service killed at any instant knows on restart what
it launched: runs the journal has as crashed are resumed (``fleet.api.resume``: the journal and
Azure decide, no script runs twice), runs it never recorded never started.

When a run ends, its regressions are computed against the job's previous run and its alerts
recorded, in one transaction (``ServeStore.evaluate``); a run that cannot start raises a
run-failure alert. Runs stop with the service: cancelled, they stay resumable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import anyio
import structlog
from anyio.abc import TaskGroup

from fleet.api.history import recipe_of
from fleet.api.prepare import new_run_id, prepare
from fleet.api.resume import resume_async
from fleet.api.run import run_async
from fleet.errors import FleetError, UnknownRun
from fleet.history import History
from fleet.journal import CRASHED, RUNNING, Journal
from fleet.model import ArmCounters, JobSpec, Progress, RunPlan, RunReport
from fleet.ports import Backend, RunObserver
from fleet.schedule import Firing
from fleet.secrets import Secrets
from fleet.serve import store as st
from fleet.serve.alerts import Evaluation, draft, run_failure
from fleet.serve.jobs import ServedJob
from fleet.serve.view import LiveRun
from fleet.spec import Connection, Recipe

log = structlog.get_logger("fleet.serve")


class LiveObserver(RunObserver):
    """Keeps the service's view of one run in flight up to date."""

    def __init__(self, live: dict[str, LiveRun], run_id: str) -> None:
        self.live = live
        self.run_id = run_id

    def run_started(self, plan: RunPlan) -> None:
        now = self.live.get(self.run_id)
        if now is not None:
            self.live[self.run_id] = dataclasses.replace(now, targets=len(plan.selected))

    def progress(self, progress: Progress) -> None:
        now = self.live.get(self.run_id)
        if now is not None:
            self.live[self.run_id] = dataclasses.replace(now, progress=progress)


def _minus(now: ArmCounters, base: ArmCounters) -> ArmCounters:
    kinds = set(now.requests) | set(base.requests)
    return ArmCounters(
        requests={k: now.requests.get(k, 0) - base.requests.get(k, 0) for k in kinds},
        throttled=now.throttled - base.throttled,
        throttle_wait_s=now.throttle_wait_s - base.throttle_wait_s,
        retries=now.retries - base.retries,
    )


class RunManager:
    """Launches, resumes and evaluates the service's runs in the service's task group."""

    def __init__(
        self,
        jobs: Mapping[str, ServedJob],
        backend: Backend,
        journal: Journal,
        store: st.ServeStore,
        connection: Connection,
        tg: TaskGroup,
        on_alerts: Callable[[], None] = lambda: None,
    ) -> None:
        self.jobs = jobs
        self.backend = backend
        self.journal = journal
        self.history = History(journal)
        self.store = store
        self.connection = connection
        self.tg = tg
        self.on_alerts = on_alerts
        self.live: dict[str, LiveRun] = {}
        self.busy: dict[str, str] = {}  # job -> the run id in flight
        self._changed = anyio.Event()

    def _now(self) -> datetime:
        return datetime.now(UTC)

    def _run_backend(self) -> Backend:
        """The shared backend, its ARM counters counted from now (for this run's report)."""
        base, counters = self.backend.arm_counters(), self.backend.arm_counters
        return dataclasses.replace(self.backend, arm_counters=lambda: _minus(counters(), base))

    # -- launching (the scheduler's Launcher) -----------------------------------------------

    def launch(self, firing: Firing) -> str | None:
        job = self.jobs[firing.job]
        if job.name in self.busy:
            return None
        run_id = new_run_id()
        self.store.launching(run_id, job.name, firing.nominal, self._now())
        self._start(job.name, run_id)
        self.tg.start_soon(self._run, job, run_id)
        return run_id

    def _start(self, job: str, run_id: str, *, resumed: bool = False) -> None:
        self.busy[job] = run_id
        self.live[run_id] = LiveRun(run_id, job, self._now(), 0, resumed=resumed)

    def _done(self, job: str, run_id: str) -> None:
        self.live.pop(run_id, None)
        if self.busy.get(job) == run_id:
            del self.busy[job]
        self._changed.set()

    async def idle(self) -> None:
        """Return once no run is in flight."""
        while self.busy:
            self._changed = anyio.Event()
            await self._changed.wait()

    @property
    def _outputs_root(self) -> Path:
        """Where jobs with output storage keep full outputs: beside the journal, as fleet run
        does (``fleet show RUN_ID --target NAME`` reads them)."""
        return self.journal.state_dir / "outputs"

    async def _run(self, job: ServedJob, run_id: str) -> None:
        try:
            backend = self._run_backend()
            try:
                plan = await prepare(job.spec, backend, run_id=run_id, history=self.journal)
            except FleetError as exc:
                self.store.set_launch(run_id, st.NEVER_STARTED, str(exc))
                log.warning("run.not_started", job=job.name, run_id=run_id, error=str(exc))
                await self._evaluate_failed(job.name, run_id, f"the run could not start: {exc}")
                return
            self.store.set_launch(run_id, st.RUNNING)
            recipe = Recipe(job.parsed.document, self.connection)
            await run_async(
                plan, backend, observer=LiveObserver(self.live, run_id), journal=self.journal,
                recipe=recipe, outputs_root=self._outputs_root,
            )  # fmt: skip
            self.store.set_launch(run_id, st.ENDED)
            await self.evaluate(job.name, run_id)
        except FleetError as exc:  # e.g. the journal: the run stays resumable
            log.error("run.failed", job=job.name, run_id=run_id, error=str(exc))
        except Exception:  # a bug in one run must not stop the other jobs' schedules
            log.exception("run.crashed", job=job.name, run_id=run_id)
        finally:
            self._done(job.name, run_id)

    # -- what a stopped service left ---------------------------------------------------------

    def resume_left(self) -> None:
        """Resume the runs a stopped service left in flight; settle the ones never started."""
        for launch in self.store.open_launches():
            try:
                record = self.journal.run(launch.run_id)
            except UnknownRun:
                why = "the service stopped before the run was recorded: nothing was sent"
                self.store.set_launch(launch.run_id, st.NEVER_STARTED, why)
                continue
            if record.ended == CRASHED:
                self._resume(launch)
            elif record.ended != RUNNING:
                self.store.set_launch(launch.run_id, st.ENDED)
            else:
                log.warning("run.busy_elsewhere", run_id=launch.run_id, job=launch.job)

    def _resume(self, launch: st.Launch) -> None:
        try:
            recipe = recipe_of(self.journal, launch.run_id)
            if recipe.connection.sim:
                why = "it ran on the simulated fleet of the service that stopped"
                raise FleetError(f"run {launch.run_id} cannot be resumed: {why}")
            spec = recipe.job_spec()
        except FleetError as exc:
            self.store.set_launch(launch.run_id, st.ABANDONED, str(exc))
            log.warning("run.abandoned", run_id=launch.run_id, job=launch.job, error=str(exc))
            return
        self._start(launch.job, launch.run_id, resumed=True)
        self.tg.start_soon(self._resumed, launch, spec)

    async def _resumed(self, launch: st.Launch, spec: JobSpec) -> None:
        try:
            report: RunReport = await resume_async(
                launch.run_id, self.journal, spec, self._run_backend(),
                observer=LiveObserver(self.live, launch.run_id), outputs_root=self._outputs_root,
            )  # fmt: skip
            log.info("run.resumed_done", run_id=launch.run_id, ended=report.ended)
            self.store.set_launch(launch.run_id, st.ENDED)
            await self.evaluate(launch.job, launch.run_id)
        except FleetError as exc:
            log.error("run.resume_failed", run_id=launch.run_id, error=str(exc))
        except Exception:  # as in _run: the service goes on
            log.exception("run.crashed", job=launch.job, run_id=launch.run_id)
        finally:
            self._done(launch.job, launch.run_id)

    async def recorded(self, job: str, run_id: str, nominal: datetime) -> None:
        """A run of ``job`` made elsewhere (fleet on Temporal) ended and is in the journal now:
        noted as this service's launch of the fire ``nominal`` and evaluated."""
        self.store.launching(run_id, job, nominal, self._now())
        self.store.set_launch(run_id, st.ENDED)
        await self.evaluate(job, run_id)

    async def evaluate_left(self) -> None:
        """Compute the regressions and alerts of runs that ended while no one evaluated them."""
        for launch in self.store.unevaluated():
            await self.evaluate(launch.job, launch.run_id)

    # -- regressions and alerts -------------------------------------------------------------

    async def evaluate(self, job: str, run_id: str) -> None:
        comparison = await anyio.to_thread.run_sync(self.history.changes, run_id)
        counts = self.history.verdicts(run_id).counts
        failure = run_failure(comparison.current)
        evaluation = Evaluation(job, run_id, self._now(), comparison, counts, failure)
        await self._record(evaluation)

    async def _evaluate_failed(self, job: str, run_id: str, why: str) -> None:
        await self._record(Evaluation(job, run_id, self._now(), None, None, why))

    async def _record(self, evaluation: Evaluation) -> None:
        served = self.jobs.get(evaluation.job)
        spec = served.spec if served is not None else None
        alerts = []
        hooks: list[str] = []
        if spec is not None:
            failed_before = self.store.run_failed(evaluation.job)
            secrets = Secrets.from_spec(spec)
            alerts = draft(evaluation, spec.alerts, failed_before=failed_before, secrets=secrets)
            hooks = list(dict.fromkeys(h.env for h in spec.alerts.webhooks))
        ids = self.store.evaluate(
            evaluation.run_id, evaluation.job, alerts, hooks,
            run_failed=evaluation.failure is not None, at=evaluation.at,
        )  # fmt: skip
        log.info(
            "run.evaluated", job=evaluation.job, run_id=evaluation.run_id,
            alerts=[a.kind.value for a in alerts], failure=evaluation.failure,
        )  # fmt: skip
        if ids:
            self.on_alerts()

"""``fleet serve``'s main: one process that schedules every job of ``--jobs DIR``, runs each fire
as a journaled run on one shared backend, evaluates and delivers alerts, and serves the web app
on ``--listen`` — and ``Service``, the read-only ``ServiceView`` the web app gets.

Start: take the state directory's service lock (a second service is refused), open the service
store and the journal, connect (``--sim``: the emulator runs in this process, with an Azurite
for the jobs' output blobs when a job has output storage; full outputs are kept beside the
journal), resume the runs a killed service left, evaluate runs that ended unevaluated, retry
pending alert deliveries, then schedule. Stop (SIGTERM or Ctrl-C): no new fires; runs in flight
get ``drain_s`` to finish, then they are cancelled and stay resumable (the next start resumes
them); a second signal cancels them at once.

With ``RemoteRuns`` (fleet on Temporal) the schedules fire and the runs run elsewhere: the
service syncs the schedules, follows them, records each run that ended in its journal and
evaluates it; it starts no run itself, so stopping it stops no run.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio
import structlog
import uvicorn
import yaml

from fleet import __version__
from fleet.api.history import open_journal
from fleet.connect import OnSim, open_backend
from fleet.history import History
from fleet.journal import Journal
from fleet.model import ArmCounters
from fleet.ports import Backend
from fleet.schedule import FireLog, LocalScheduler, Scheduler, ScheduleState
from fleet.serve.app import create_app
from fleet.serve.deliver import Deliverer, Hooks, Retry
from fleet.serve.jobs import ServedJob
from fleet.serve.lock import service_lock
from fleet.serve.runs import RunManager
from fleet.serve.store import ServeStore
from fleet.serve.view import AlertRecord, JobInfo, LiveRun, ServiceInfo
from fleet.spec import Connection

log = structlog.get_logger("fleet.serve")


class RemoteRuns(Protocol):
    """Scheduled runs that another system fires and runs (fleet on Temporal: the CLI hands in
    ``fleet.temporal.service.TemporalRuns``). The service then starts no run of its own: it
    syncs the schedules, and records (``follow``) each run that ended there in its journal
    and hands it over (``recorded``) to be evaluated — regressions, alerts — like its own."""

    async def connect(self) -> None: ...

    def scheduler(self, fires: FireLog) -> Scheduler: ...

    async def follow(
        self, journal: Journal, recorded: Callable[[str, str, datetime], Awaitable[None]]
    ) -> None: ...


@dataclass(frozen=True)
class ServeOptions:
    jobs: Sequence[ServedJob]
    jobs_dir: Path
    state_dir: Path
    host: str
    port: int
    connection: Connection
    drain_s: float = 30.0
    retry: Retry = field(default_factory=Retry)
    token: str | None = None  # the web app's bearer token (required off loopback)
    remote: RemoteRuns | None = None  # scheduled and run elsewhere (fleet on Temporal)


class Service:
    """What the web app reads (``fleet.serve.view.ServiceView``)."""

    def __init__(
        self, info: ServiceInfo, jobs: Sequence[ServedJob], runs: RunManager,
        scheduler: Scheduler, store: ServeStore, backend: Backend,
    ) -> None:  # fmt: skip
        self._info = info
        self._jobs = [_job_info(j) for j in jobs]
        self._runs = runs
        self._scheduler = scheduler
        self._store = store
        self._backend = backend

    @property
    def history(self) -> History:
        return self._runs.history

    def info(self) -> ServiceInfo:
        return self._info

    def jobs(self) -> Sequence[JobInfo]:
        return list(self._jobs)

    def schedules(self) -> Sequence[ScheduleState]:
        return self._scheduler.states()

    def live(self) -> Sequence[LiveRun]:
        return sorted(self._runs.live.values(), key=lambda r: r.started_at)

    def alerts(self, job: str | None = None, limit: int = 50) -> Sequence[AlertRecord]:
        return self._store.alerts(job, limit)

    def arm_counters(self) -> ArmCounters:
        return self._backend.arm_counters()


def _job_info(job: ServedJob) -> JobInfo:
    spec = job.spec
    return JobInfo(
        name=job.name,
        source=str(job.path),
        description=_description(job),
        schedule=job.schedule,
        expect=spec.expect,
        webhooks=tuple(h.describe() for h in spec.alerts.webhooks),
        alert_on=tuple(sorted(spec.alerts.on)),
    )


def _description(job: ServedJob) -> str:
    """The job file's ``description:`` (the spec keeps no description)."""
    try:
        data = yaml.safe_load(job.parsed.document.text or "")
    except yaml.YAMLError:  # it parsed once already; be safe anyway
        return ""
    value = data.get("description") if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (bound here, so a busy port is a clear error, not uvicorn's exit)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the service handles SIGTERM/SIGINT."""

    def capture_signals(self) -> Any:
        return nullcontext()


async def serve(options: ServeOptions, sock: socket.socket, on_sim: OnSim | None = None) -> None:
    """Run the service until a signal stops it (see the module docstring)."""
    listen = "http://{}:{}".format(*sock.getsockname()[:2])
    with service_lock(options.state_dir, listen):
        store = ServeStore(options.state_dir)
        journal = open_journal(options.state_dir)
        emulator: dict[str, str] = {}

        def found(endpoint: str, ca_cert: str) -> None:
            emulator.update(endpoint=endpoint, ca_cert=ca_cert)

        try:
            output = next((j.spec.output for j in options.jobs if j.spec.output), None)
            async with open_backend(
                options.connection, on_sim, found, journal=journal, output=output
            ) as backend:
                await _run(options, sock, listen, store, journal, backend, emulator)
        finally:
            journal.close()
            store.close()


async def _run(
    options: ServeOptions, sock: socket.socket, listen: str, store: ServeStore,
    journal: Any, backend: Backend, emulator: dict[str, str],
) -> None:  # fmt: skip
    jobs = {j.name: j for j in options.jobs}
    hooks = Hooks(
        webhooks={j.name: {h.env: h for h in j.spec.alerts.webhooks} for j in options.jobs},
        secrets={j.name: _secrets(j) for j in options.jobs},
    )
    deliverer = Deliverer(store, hooks, options.retry)
    remote = options.remote
    if remote is not None:
        await remote.connect()
    scheduler = LocalScheduler(store) if remote is None else remote.scheduler(store)
    async with anyio.create_task_group() as tg:
        runs = RunManager(jobs, backend, journal, store, options.connection, tg, deliverer.wake)
        info = ServiceInfo(
            started_at=datetime.now(UTC), jobs_dir=str(options.jobs_dir),
            state_dir=str(options.state_dir), listen=listen,
            simulated=options.connection.sim, version=__version__,
        )  # fmt: skip
        service = Service(info, options.jobs, runs, scheduler, store, backend)
        config = uvicorn.Config(
            create_app(service, token=options.token),
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        server = _Server(config)
        web_done = anyio.Event()
        tg.start_soon(deliverer.run)
        tg.start_soon(_web, server, sock, web_done)
        runs.resume_left()
        await runs.evaluate_left()
        if remote is not None:
            tg.start_soon(remote.follow, journal, runs.recorded)
        scheduling = anyio.CancelScope()
        tg.start_soon(_scheduling, scheduler, options.jobs, runs, scheduling)
        _ready(listen, options, emulator)
        await _until_stopped(runs, scheduling, options.drain_s)
        server.should_exit = True
        with anyio.move_on_after(5):
            await web_done.wait()
        tg.cancel_scope.cancel()  # runs left in flight stay resumable


async def _web(server: uvicorn.Server, sock: socket.socket, done: anyio.Event) -> None:
    try:
        await server.serve([sock])
    finally:
        done.set()


def _secrets(job: ServedJob) -> Any:
    from fleet.secrets import Secrets

    return Secrets.from_spec(job.spec)


async def _scheduling(
    scheduler: Scheduler, jobs: Sequence[ServedJob], runs: RunManager,
    scope: anyio.CancelScope,
) -> None:  # fmt: skip
    with scope:
        await scheduler.run([j.scheduled() for j in jobs], runs)


def _ready(listen: str, options: ServeOptions, emulator: dict[str, str]) -> None:
    """One JSON line on stdout when the service listens and schedules (for scripts and tests);
    with ``--sim``, ``emulator`` says where the embedded emulator's ``/_sim`` API is."""
    line: dict[str, Any] = {
        "listen": listen,
        "state_dir": str(options.state_dir),
        "jobs": [j.name for j in options.jobs],
        "simulated": options.connection.sim,
    }
    if emulator:
        line["emulator"] = emulator
    print(json.dumps(line), flush=True)
    log.info("serve.started", **line)


async def _until_stopped(runs: RunManager, scheduling: anyio.CancelScope, drain_s: float) -> None:
    """Wait for SIGTERM/SIGINT; then stop scheduling and let the runs drain until they are
    done, ``drain_s`` has passed, or a second signal comes."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            scheduling.cancel()
            print(
                f"{signal.Signals(signum).name}: fleet serve stops scheduling; runs in flight "
                f"get {drain_s:g} s to finish, then they stop and stay resumable (the next "
                "start resumes them). Signal again to stop them now.",
                file=sys.stderr,
                flush=True,
            )
            break
        with anyio.move_on_after(drain_s):
            async with anyio.create_task_group() as tg:

                async def drained() -> None:
                    await runs.idle()
                    tg.cancel_scope.cancel()

                async def second_signal() -> None:
                    async for _ in signals:
                        tg.cancel_scope.cancel()

                tg.start_soon(drained)
                tg.start_soon(second_signal)
    log.info("serve.stopping", left_running=sorted(runs.busy.values()))

"""fleet on Temporal from the command line: ``fleet worker``, and what ``fleet run``, ``runs``,
``show`` and ``resume`` do with ``--temporal HOST:PORT``. Thin: the work is in
``fleet.temporal`` (the optional extra ``fleet[temporal]``, imported only here and only when
asked for, so fleet works without it).
"""

from __future__ import annotations

import json
import signal
import sys
from typing import Annotated, Any

import anyio
import typer

from fleet.api.prepare import prepare
from fleet.cli.checks import check_os_fit
from fleet.cli.exits import err_console, fail
from fleet.cli.options import (
    ArmEndpointOpt,
    CaCertOpt,
    CloudOpt,
    LogFormatOpt,
    LogLevelOpt,
    NamespaceOpt,
    SubscriptionOpt,
    TimeScaleOpt,
)
from fleet.cli.rollout_view import confirm_run
from fleet.cli.signals import relay_signals
from fleet.cli.terminal import TerminalObserver
from fleet.cli.wiring import configure_logs, open_backend, run_sync
from fleet.errors import ConnectionSetupError, FleetError, SpecError
from fleet.model import RunReport
from fleet.rollout.control import RunControl
from fleet.spec import Connection, ParsedJob

WORKER_HELP = """Run fleet's work for runs and schedules on Temporal.

A worker holds its own connection to Azure (credentials like fleet run's,
or --arm-endpoint/--ca-cert with FLEET_ACCESS_TOKEN for the emulator)
and polls Temporal's task queues: the control queue (the run workflows,
target selection for schedules) and, for each --subscription, that
subscription's write queue (launches, cleanup) and read queue (watching
run commands). Start as many as you like, on as many machines: the
server dispatches each subscription's writes at fleet's share of its
write budget for all workers together, and a worker that dies hands its
work to the others.

It prints one JSON line when it polls ({"worker": {...}}) and runs until
SIGTERM or Ctrl-C (activities in flight get 10 s, the rest is retried
elsewhere). Protected parameters of the jobs it runs come from its own
environment.

Example (two workers on the emulator):

  fleet sim serve --profile pair --time-scale 20
  FLEET_ACCESS_TOKEN=fleet-sim-token fleet worker --temporal 127.0.0.1:7233
      --arm-endpoint https://127.0.0.1:PORT --ca-cert CA.pem --time-scale 20
      --subscription 00000000-0000-4000-8000-0000000000e1
"""

TemporalRequiredOpt = Annotated[
    str,
    typer.Option("--temporal", help="HOST:PORT of the Temporal server.", show_default=False),
]
HeartbeatOpt = Annotated[
    float,
    typer.Option(
        "--heartbeat",
        help="--temporal: seconds after which the work of a worker that stopped answering "
        "goes to another worker.",
        min=2.0,
        rich_help_panel="Temporal",
    ),
]


#: Set once this process made a Temporal client: its Rust core's threads can crash the
#: interpreter's teardown (SIGABRT, "PyGILState_Release: thread state ... must be current when
#: releasing"; temporalio/sdk-python#300, open), so ``fleet.cli.main`` ends such a process with
#: ``os._exit`` once its output is flushed.
USED = {"temporal": False}


def require_extra() -> None:
    """``ConnectionSetupError`` (exit code 2) when ``fleet[temporal]`` is not installed."""
    from fleet.temporal.devserver import extra_missing

    missing = extra_missing()
    if missing is not None:
        message = (
            f"--temporal needs fleet's optional extra: {missing}. pip install 'fleet[temporal]'"
        )
        raise ConnectionSetupError(message)


async def _client(kw: dict[str, Any]) -> Any:
    """A Temporal client (``temporalio.client.Client``) for ``--temporal``/``--namespace``."""
    from fleet.temporal.connection import connect

    USED["temporal"] = True
    return await connect(kw["temporal"], kw.get("namespace") or "default")


# ---- fleet worker -----------------------------------------------------------------------------


def worker_cmd(
    temporal: TemporalRequiredOpt,
    namespace: NamespaceOpt = "default",
    subscription: SubscriptionOpt = None,
    cloud: CloudOpt = "public",
    arm_endpoint: ArmEndpointOpt = None,
    ca_cert: CaCertOpt = None,
    time_scale: TimeScaleOpt = None,
    log_format: LogFormatOpt = "auto",
    log_level: LogLevelOpt = "warning",
) -> None:
    kw = dict(
        temporal=temporal, namespace=namespace, subscription=subscription, cloud=cloud,
        arm_endpoint=arm_endpoint, ca_cert=ca_cert, time_scale=time_scale,
        log_format=log_format, log_level=log_level,
    )  # fmt: skip
    try:
        require_extra()
        configure_logs(kw)
        subs = tuple(s.strip() for value in subscription or () for s in value.split(",") if s)
        if not subs:
            message = (
                "fleet worker needs --subscription (repeatable, or comma-separated): the "
                "subscriptions whose work this worker takes"
            )
            raise SpecError(message)
        connection = Connection.from_flags({**kw, "subscription": subs})
        run_sync(_worker, kw, connection)
    except FleetError as exc:
        raise fail(exc) from exc


async def _worker(kw: dict[str, Any], connection: Connection) -> None:
    from fleet.temporal.worker import serve_worker, worker_plan

    client = await _client(kw)
    plan = worker_plan(connection.subscriptions, connection.time_scale)

    def ready() -> None:
        line = {
            "worker": {
                "temporal": kw["temporal"], "namespace": client.namespace,
                "queues": plan.queues, "write_rate": plan.write_rate,
            }
        }  # fmt: skip
        print(json.dumps(line), flush=True)

    async with open_backend(connection) as backend, anyio.create_task_group() as tg:
        tg.start_soon(serve_worker, client, backend, plan, ready)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                err_console.print(f"{name}: the worker stops (its work goes to other workers).")
                break
        tg.cancel_scope.cancel()


# ---- fleet run --temporal ---------------------------------------------------------------------


async def run_on_temporal(
    job: ParsedJob, connection: Connection, yes: bool, kw: dict[str, Any]
) -> RunReport:
    """Plan here (the operator confirms what runs), then submit the plan as a run workflow and
    follow it to its report."""
    from fleet.spec.portable import portable
    from fleet.temporal.client import RunSettings, check_supported, submit
    from fleet.temporal.queues import check_workers

    if connection.sim:
        message = (
            "--temporal with --sim: the emulator would live inside this process, where no "
            "worker can reach it. Start `fleet sim serve` and give the workers and this command "
            "its --arm-endpoint and --ca-cert."
        )
        raise SpecError(message)
    check_supported(job.spec)
    traveling = portable(job.document)  # before anything: a SAS token never travels
    client = await _client(kw)
    async with open_backend(connection) as backend:
        plan = await prepare(job.spec, backend, allow_empty=bool(kw.get("allow_empty")))
        simulated = backend.simulated
    check_os_fit(plan, job)
    interactive = sys.stdin.isatty() and err_console.is_terminal
    confirm_run(err_console, plan, yes=yes, interactive=interactive, ask=err_console.input)
    await check_workers(client, plan)
    settings = RunSettings(connection.time_scale, float(kw.get("heartbeat") or 20.0), simulated)
    handle = await submit(client, plan, traveling, settings)
    title = f"fleet run {plan.spec.name} (Temporal)"
    with TerminalObserver(err_console, title=title) as observer:
        observer.run_started(plan)
        err_console.print(
            f"on Temporal {kw['temporal']} (namespace {client.namespace}): the run goes on if "
            f"this command stops; `fleet show {plan.run_id} --temporal {kw['temporal']}` gives "
            "its report.",
            highlight=False,
        )
        return await _follow(handle, observer)


async def _follow(handle: Any, observer: TerminalObserver) -> RunReport:
    """Follow the run; a Ctrl-C goes to the workflow as it would to a local run."""
    from fleet.temporal.client import follow, stop_policy

    cancel_running, grace_s = await stop_policy(handle)
    control = RunControl(cancel_running=cancel_running)
    async with anyio.create_task_group() as tg:
        tg.start_soon(relay_signals, control, err_console, grace_s)
        report = await follow(handle, observer=observer, control=control)
        tg.cancel_scope.cancel()
    return report


# ---- fleet runs / show / resume --temporal ----------------------------------------------------


async def temporal_runs(kw: dict[str, Any], limit: int, job: str | None) -> list[dict[str, Any]]:
    from fleet.temporal.client import runs

    client = await _client(kw)
    return [row.to_json() for row in await runs(client, limit, job)]


async def temporal_report(kw: dict[str, Any], run_id: str) -> RunReport:
    from fleet.temporal.client import finished_report

    return await finished_report(await _client(kw), run_id)


async def temporal_resume(kw: dict[str, Any], run_id: str) -> RunReport:
    """Follow a run still in flight on Temporal to its report (it never stopped: its workers
    went on while no client watched)."""
    from fleet.temporal.client import is_running, run_handle

    client = await _client(kw)
    handle = await run_handle(client, run_id)
    if not await is_running(handle):
        message = (
            f"run {run_id} already ended on Temporal: nothing to resume "
            f"(`fleet show {run_id} --temporal {kw['temporal']}` shows it)"
        )
        raise SpecError(message)
    err_console.print(f"following run [bold]{run_id}[/] on Temporal", highlight=False)
    title = f"fleet resume {run_id} (Temporal)"
    with TerminalObserver(err_console, title=title, announce=False) as observer:
        return await _follow(handle, observer)

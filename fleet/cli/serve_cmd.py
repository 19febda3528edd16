"""``fleet serve``: parse, check, wire, hand over to ``fleet.serve.service``. Everything that
can be wrong with the jobs, the listen address or the state directory is reported before the
service starts (exit code 2)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fleet.cli.exits import err_console, fail
from fleet.cli.options import connection_options, journal_options, temporal_options, with_options
from fleet.cli.temporal_cmd import USED, require_extra
from fleet.cli.wiring import configure_logs, run_sync, sim_banner
from fleet.errors import FleetError, SpecError
from fleet.journal import resolve_state_dir
from fleet.spec import Connection
from fleet.spec.values import parse_span

if TYPE_CHECKING:
    from fleet.serve.jobs import ServedJob
    from fleet.serve.service import ServeOptions

SERVE_HELP = """Run scheduled health checks: every job of --jobs DIR on its schedule.

Each job file needs a schedule: section (cron with a time zone, or
every: 15m) and may have expect: (what each target must show to pass)
and alerts: (webhooks told about regressions, recoveries, failed runs).
Every fire is an ordinary journaled run (see fleet runs --job, fleet
diff); a fire while the job's run is still in flight is skipped and
recorded. One service per --state-dir.

It prints one JSON line when ready ({"listen": ..., "jobs": [...]}) and
serves a read-only web app on --listen: the dashboard (/), its JSON API
(/api/...), /metrics for Prometheus and /healthz. Loopback by default; any
other address needs FLEET_SERVE_TOKEN (16+ characters), which every
request must then send (Authorization: Bearer, or as a browser's password).

SIGTERM or Ctrl-C: no new runs; runs in flight get --drain to finish,
then stop and stay resumable: the next start resumes them.

With --temporal HOST:PORT the jobs' schedules are Temporal Schedules
(overlap: skip) and fleet workers run every fire (see fleet worker): the
schedules go on without this process, which records each run that ended
in its journal (for the dashboard, fleet runs --job, the alerts).

Example (the simulated fleet):

  fleet serve --jobs configs/scheduled --sim --state-dir /tmp/serve
"""

JobsOpt = Annotated[
    Path,
    typer.Option("--jobs", help="Directory of job files (*.yaml), each with a schedule: section."),
]
ListenOpt = Annotated[
    str,
    typer.Option(
        "--listen",
        help="HOST:PORT of the web app (port 0: any). Off loopback, $FLEET_SERVE_TOKEN must hold "
        "the bearer token every request then needs.",
    ),
]
DrainOpt = Annotated[
    str,
    typer.Option(
        "--drain",
        help="How long runs in flight may finish after SIGTERM (then they stop, resumable).",
    ),
]


def parse_listen(text: str) -> tuple[str, int]:
    """``127.0.0.1:8080``, ``[::1]:8080`` or ``0.0.0.0:8080`` → (host, port). Who may listen
    where is ``fleet.serve.auth.listen_policy``'s call (a token off loopback)."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError(text)
        address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        message = f"--listen {text!r}: give HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080"
        raise SpecError(message) from None
    return str(address), int(port)


def _drain(text: str) -> int:
    try:
        return parse_span(text, minimum=0, maximum=86_400, what="--drain")
    except ValueError as exc:
        raise SpecError(f"--drain: {exc}") from None


@with_options(connection_options, journal_options, temporal_options)
def serve_cmd(
    jobs: JobsOpt,
    listen: ListenOpt = "127.0.0.1:8080",
    drain: DrainOpt = "30s",
    **kw: Any,
) -> None:
    from fleet.serve.auth import listen_policy  # the service's modules load only for serve
    from fleet.serve.jobs import load_jobs
    from fleet.serve.service import ServeOptions, bind

    try:
        configure_logs(kw)
        host, port = parse_listen(listen)
        token = listen_policy(listen, os.environ)  # exit 2 off loopback without a token
        drain_s = _drain(drain)
        served = load_jobs(jobs)
        connection = Connection.from_flags(kw)
        options = ServeOptions(
            jobs=served,
            jobs_dir=jobs.resolve(),
            state_dir=resolve_state_dir(kw.get("state_dir")),
            host=host,
            port=port,
            connection=connection,
            drain_s=float(drain_s),
            token=token,
            remote=_remote(served, connection, kw) if kw.get("temporal") else None,
        )
        try:
            sock = bind(host, port)
        except OSError as exc:
            message = f"--listen {listen}: cannot listen there ({exc.strerror or exc})"
            raise SpecError(message) from None
        with sock:
            run_sync(_serve, options, sock)
    except FleetError as exc:
        raise fail(exc) from exc


def _remote(served: list[ServedJob], connection: Connection, kw: dict[str, Any]) -> Any:
    """The schedules and runs on Temporal (``--temporal``): the jobs travel to the workers."""
    require_extra()
    if connection.sim:
        message = (
            "--temporal with --sim: the emulator would live inside this process, where no "
            "worker can reach it. Start `fleet sim serve` and give the workers its "
            "--arm-endpoint and --ca-cert."
        )
        raise SpecError(message)
    from fleet.spec.portable import portable
    from fleet.temporal.client import RunSettings
    from fleet.temporal.service import TemporalRuns

    USED["temporal"] = True
    jobs = {j.name: (j.spec, portable(j.parsed.document).to_json()) for j in served}
    settings = RunSettings(time_scale=connection.time_scale)
    return TemporalRuns(kw["temporal"], kw.get("namespace") or "default", jobs, settings)


async def _serve(options: ServeOptions, sock: Any) -> None:
    from fleet.serve.service import serve

    await serve(options, sock, on_sim=sim_banner)
    err_console.print("fleet serve stopped.")

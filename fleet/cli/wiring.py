"""CLI wiring: opens the backend of a ``Connection`` (the embedded emulator for ``--sim``),
configures the logs, runs the async part with the run's secrets current, maps FleetError to
exit codes with a clear message, and finishes a run (summary, report file, exit code).
No engine logic here.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import typer
from rich.panel import Panel

from fleet import logs
from fleet.cli.exits import err_console, say_error, set_debug
from fleet.errors import FleetError, ReportWriteError, SpecError
from fleet.model import RunReport, Secret
from fleet.ports import Backend
from fleet.secrets import NO_SECRETS, Secrets, using
from fleet.spec import Connection

if TYPE_CHECKING:
    from fleet.azure.backend import ConnectionSettings

T = TypeVar("T")


def configure_logs(kw: dict[str, Any]) -> None:
    """Structured logs as ``--log-format`` / ``--log-level`` say (checked: exit 2 if bad)."""
    fmt, level = kw.get("log_format", "auto"), kw.get("log_level", "warning")
    if fmt not in ("auto", "console", "json"):
        raise SpecError(f"--log-format must be auto, console or json, got {fmt!r}.")
    if level.lower() not in ("debug", "info", "warning", "error"):
        raise SpecError(f"--log-level must be debug, info, warning or error, got {level!r}.")
    logs.configure(level, fmt)
    set_debug(level.lower() == "debug")


def run_sync(fn: Callable[..., Awaitable[T]], *args: Any, secrets: Secrets = NO_SECRETS) -> T:
    """``anyio.run`` with ``secrets`` current (the logs redact them), and a FleetError raised
    inside a task group unwrapped from its exception group (so it still becomes a clear
    message and its exit code)."""
    try:
        with using(secrets):
            return anyio.run(fn, *args)
    except BaseExceptionGroup as group:
        matched, _rest = group.split(FleetError)
        if matched is not None:
            first = matched.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from group
        raise


def _banner(profile: str, time_scale: float) -> None:
    from fleet.sim.catalog import is_name

    shown = profile if is_name(profile) else os.path.relpath(profile)  # as the operator wrote it
    text = (
        f"[bold]SIMULATED FLEET[/] — profile {shown}, time scale x{time_scale:g}. "
        "Nothing here touches Azure; times shown are Azure-equivalent only in the report's "
        "timestamps."
    )
    err_console.print(Panel(text, border_style="yellow"), highlight=False)


@asynccontextmanager
async def open_backend(connection: Connection) -> AsyncIterator[Backend]:
    """The backend of ``connection``: the embedded emulator (``sim``), or ARM with the token
    from ``FLEET_ACCESS_TOKEN`` (custom endpoints) or ``DefaultAzureCredential``."""
    from fleet.azure.backend import ConnectionSettings, azure_backend

    if connection.sim:
        async with _emulated(connection) as settings, azure_backend(settings) as backend:
            yield backend
        return
    token = os.environ.get("FLEET_ACCESS_TOKEN")
    settings = ConnectionSettings(
        cloud=connection.cloud,
        arm_endpoint=connection.arm_endpoint,
        ca_cert=connection.ca_cert,
        token=Secret(token) if token else None,
        subscriptions=connection.subscriptions,
    )
    async with azure_backend(settings) as backend:
        yield backend


@asynccontextmanager
async def _emulated(connection: Connection) -> AsyncIterator[ConnectionSettings]:
    """The emulator ``--sim`` starts in-process, and the settings to reach it."""
    from fleet.azure.backend import ConnectionSettings
    from fleet.sim import catalog
    from fleet.sim.emulator import Emulator
    from fleet.sim.profile import ProfileError

    ref = connection.profile or "demo"
    try:
        profile = catalog.load(ref)
    except ProfileError as exc:
        raise SpecError(str(exc)) from exc
    scale = connection.time_scale
    _banner(ref, scale)
    async with Emulator(profile, time_scale=scale) as emu:
        yield ConnectionSettings(
            arm_endpoint=emu.info.endpoint,
            ca_cert=emu.info.ca_cert,
            token=Secret(emu.token),
            subscriptions=connection.subscriptions or tuple(emu.info.subscriptions),
            time_scale=scale,
            simulated=True,
        )


def finish_run(
    result: RunReport,
    report: Path | None,
    strict: bool,
    secrets: Secrets = NO_SECRETS,
    fmt: str = "table",
) -> None:
    """Show the run (``fmt``: table, json or tsv), write the JSON report and exit with the
    run's exit code — or 5 when the report could not be written (the journal still has it).
    Whatever a script echoed of the run's ``secrets`` is redacted in both."""
    from fleet.cli.views import show_report
    from fleet.report.groups import group_results
    from fleet.report.json_report import exit_code_for, write_report

    result = secrets.redact_report(result)
    groups = group_results(result.results)  # once: grouping 10,000 outputs is not free
    show_report(result, groups, fmt)
    if report is not None:
        try:
            write_report(report, result, groups=groups)
        except ReportWriteError as exc:  # the run happened: say so, and how to get the JSON
            say_error(f"{exc} — the run is in the journal: fleet show {result.run_id} -o json")
            raise typer.Exit(exc.exit_code) from exc
        err_console.print(f"report written to {report}", highlight=False)
    raise typer.Exit(exit_code_for(result, strict=strict))


def check_report_path(report: Path | None) -> None:
    """Refuse a report path that cannot be written before anything runs (exit 2)."""
    if report is None:
        return
    if report.exists() and not report.is_file() and not report.is_dir():
        if not os.access(report, os.W_OK):  # a device or a pipe: written in place
            raise SpecError(f"--report {report}: cannot write there (permission denied).")
        return
    parent = report.resolve().parent
    if report.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
        why = "it is a directory" if report.is_dir() else f"{parent} is not a writable directory"
        message = f"--report {report}: cannot write there ({why}). Give a writable file path."
        raise SpecError(message)

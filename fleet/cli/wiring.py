"""CLI wiring: opens the backend of a ``Connection`` (``fleet.connect``; a banner for ``--sim``),
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
from fleet.model import OutputSpec, RunReport
from fleet.ports import Backend
from fleet.report.formats import ReportFormat, format_for, parse_format
from fleet.secrets import NO_SECRETS, Secrets, using
from fleet.spec import Connection

if TYPE_CHECKING:
    from fleet.journal import Journal

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


def sim_banner(profile: str, time_scale: float) -> None:
    from fleet.sim.catalog import is_name

    shown = profile if is_name(profile) else os.path.relpath(profile)  # as the operator wrote it
    text = (
        f"[bold]SIMULATED FLEET[/] — profile {shown}, time scale x{time_scale:g}. "
        "Nothing here touches Azure; times shown are Azure-equivalent only in the report's "
        "timestamps."
    )
    err_console.print(Panel(text, border_style="yellow"), highlight=False)


@asynccontextmanager
async def open_backend(
    connection: Connection, journal: Journal | None = None, output: OutputSpec | None = None
) -> AsyncIterator[Backend]:
    """The backend of ``connection`` (``fleet.connect``), with the SIMULATED FLEET banner; a
    writable ``journal``'s state directory keeps the throttle buckets across processes;
    ``output``: the job's output storage (``--sim`` starts an Azurite for it)."""
    from fleet.connect import open_backend as connect

    async with connect(connection, on_sim=sim_banner, journal=journal, output=output) as backend:
        yield backend


def outputs_root(journal: Journal | None, report: Path | None) -> Path | None:
    """Where a run keeps full outputs: beside its journal (``STATE_DIR/outputs``), else beside
    its report (``REPORT.outputs``), else nowhere (only the report's tails)."""
    if journal is not None:
        return journal.state_dir / "outputs"
    if report is not None:
        return report.parent / f"{report.name}.outputs"
    return None


def finish_run(
    result: RunReport,
    report: Path | None,
    strict: bool,
    secrets: Secrets = NO_SECRETS,
    fmt: str = "table",
    report_format: ReportFormat = ReportFormat.JSON,
) -> None:
    """Show the run (``fmt``: table, json or tsv), write the report file (``report_format``)
    and exit with the run's exit code — or 5 when the report could not be written (the
    journal still has it). Whatever a script echoed of the run's ``secrets`` is redacted."""
    from fleet.cli.views import show_report
    from fleet.report.formats import write_document
    from fleet.report.groups import group_results
    from fleet.report.json_report import exit_code_for, report_to_dict

    result = secrets.redact_report(result)
    groups = group_results(result.results)  # once: grouping 10,000 outputs is not free
    show_report(result, groups, fmt)
    if report is not None:
        try:
            write_document(report, report_to_dict(result, groups=groups), report_format)
        except ReportWriteError as exc:  # the run happened: say so, and how to get the file
            again = f"fleet show {result.run_id} --report PATH --report-format {report_format}"
            say_error(f"{exc} — the run is in the journal: {again}")
            raise typer.Exit(exc.exit_code) from exc
        err_console.print(f"{report_format} report written to {report}", highlight=False)
    raise typer.Exit(exit_code_for(result, strict=strict))


def check_report_path(report: Path | None, report_format: str | None = None) -> ReportFormat:
    """The report's format (``--report-format``, else the one the file's suffix names: .xml
    JUnit, .csv, .html, else JSON), and refuse a report path that cannot be written, before
    anything runs (exit 2)."""
    fmt = parse_format(report_format) if report_format else format_for(report)
    if report is None:
        if report_format is not None:
            message = f"--report-format {fmt} says how to write a report file: add --report PATH."
            raise SpecError(message)
        return fmt
    if report.exists() and not report.is_file() and not report.is_dir():
        if not os.access(report, os.W_OK):  # a device or a pipe: written in place
            raise SpecError(f"--report {report}: cannot write there (permission denied).")
        return fmt
    parent = report.resolve().parent
    if report.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
        why = "it is a directory" if report.is_dir() else f"{parent} is not a writable directory"
        message = f"--report {report}: cannot write there ({why}). Give a writable file path."
        raise SpecError(message)
    return fmt

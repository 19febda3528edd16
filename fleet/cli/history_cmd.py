"""``fleet runs``, ``fleet show``, ``fleet resume`` and ``fleet rerun``: the run journal on the
command line. Resume and rerun rebuild the job from the run's recipe (``fleet.spec.Recipe``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.console import Console
from rich.table import Table

from fleet.api.history import open_journal, recipe_of, report_from_journal, unfinished
from fleet.api.prepare import prepare
from fleet.api.resume import resume_async, take_over
from fleet.cli.checks_cmd import job_runs
from fleet.cli.launch import launch
from fleet.cli.options import ReportFormatOpt, journal_options, temporal_options, with_options
from fleet.cli.rollout_view import render_ending
from fleet.cli.signals import relay_signals
from fleet.cli.temporal_cmd import require_extra, temporal_report, temporal_resume, temporal_runs
from fleet.cli.terminal import TerminalObserver
from fleet.cli.wiring import (
    check_report_path,
    configure_logs,
    err_console,
    fail,
    finish_run,
    open_backend,
    run_sync,
)
from fleet.errors import FleetError, SpecError
from fleet.journal import Journal, RunWriter, resolve_state_dir
from fleet.journal.paths import db_path
from fleet.journal.records import RunRecord
from fleet.model import JobSpec, RunReport
from fleet.report.formats import parse_format, render, write_document
from fleet.report.json_report import report_to_dict
from fleet.report.render import render_summary
from fleet.rollout.control import RunControl
from fleet.secrets import Secrets
from fleet.spec import Connection, Recipe

FormatOpt = Annotated[str, typer.Option("--format", help="table or json.")]
ReportOpt = Annotated[
    Path | None, typer.Option("--report", "-r", help="Write the report (see --report-format).")
]
StrictOpt = Annotated[bool, typer.Option(help="Count skipped targets as failures.")]


def connection_overrides(
    subscription: Annotated[
        list[str] | None,
        typer.Option("--subscription", help="Override the recorded subscriptions."),
    ] = None,
    cloud: Annotated[
        str | None, typer.Option("--cloud", help="Override the recorded cloud.")
    ] = None,
    arm_endpoint: Annotated[
        str | None,
        typer.Option(
            "--arm-endpoint", help="Override the recorded ARM endpoint (token: FLEET_ACCESS_TOKEN)."
        ),
    ] = None,
    ca_cert: Annotated[
        Path | None, typer.Option("--ca-cert", help="Override the recorded CA certificate.")
    ] = None,
    log_format: Annotated[
        str, typer.Option("--log-format", help="auto, console or json.")
    ] = "auto",
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning, error.")
    ] = "warning",
) -> None:
    """(parameters only)"""


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json"):
        raise SpecError(f"--format must be table or json, got {fmt!r}.")


def _replayed(run_id: str, kw: dict[str, Any]) -> tuple[Journal, Recipe, JobSpec]:
    """The journal, the run's recipe (with the given connection overrides) and its spec."""
    configure_logs(kw)
    journal = open_journal(kw.get("state_dir"))
    recipe = recipe_of(journal, run_id)
    recipe = Recipe(recipe.job, recipe.connection.overridden(kw), recipe.rerun_of)
    return journal, recipe, recipe.job_spec()


def run_row(record: RunRecord) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "job": record.job,
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat() if record.ended_at else None,
        "duration_s": record.duration_s,
        "ended": record.ended,
        "targets": record.target_count,
        "summary": dict(record.summary or {}),
        "who": record.who,
        "resumes": record.resumes,
    }


JobOpt = Annotated[
    str | None,
    typer.Option(
        "--job",
        help="Only this job's runs, with their verdicts (pass/fail/skip) and what changed "
        "from the run before (newly failing, recovered).",
    ),
]


@with_options(journal_options, temporal_options)
def runs(
    output_format: FormatOpt = "table",
    limit: Annotated[int, typer.Option(help="Show at most this many runs.", min=1)] = 50,
    job: JobOpt = None,
    **kw: Any,
) -> None:
    """The run history, newest first: id, job, start, duration, how it ended, outcomes.

    With --temporal: the runs on that Temporal server (--job lists one job's runs)."""
    if job is not None and not kw.get("temporal"):
        try:
            _check_format(output_format)
        except FleetError as exc:
            raise fail(exc) from exc
        job_runs(job, output_format, limit, kw)
        return
    try:
        _check_format(output_format)
        rows = _run_rows(kw, limit, job)
    except FleetError as exc:
        raise fail(exc) from exc
    if output_format == "json":
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    Console().print(_runs_table(rows))


def _run_rows(kw: dict[str, Any], limit: int, job: str | None) -> list[dict[str, Any]]:
    if kw.get("temporal"):
        require_extra()
        configure_logs({})
        return run_sync(temporal_runs, kw, limit, job)
    if not db_path(resolve_state_dir(kw.get("state_dir"))).exists():
        return []  # no journal yet: an empty history, not an error
    return [run_row(r) for r in open_journal(kw.get("state_dir"), writable=False).runs(limit)]


def _runs_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(rows)} runs")
    for col in ("run id", "job", "started", "duration", "ended", "outcomes"):
        table.add_column(col, no_wrap=col in ("run id", "job"))
    for row in rows:
        counts = ", ".join(f"{n} {k}" for k, n in row["summary"].items() if k != "total")
        duration = "-" if row["duration_s"] is None else f"{row['duration_s']:.0f} s"
        table.add_row(
            row["run_id"],
            row["job"],
            row["started_at"][:19],
            duration,
            row["ended"],
            counts or "-",
        )
    return table


@with_options(journal_options, temporal_options)
def show(
    run_id: str,
    output_format: FormatOpt = "table",
    report: ReportOpt = None,
    report_format: ReportFormatOpt = None,
    **kw: Any,
) -> None:
    """A run's report from the journal (--format json: the JSON of fleet run --report).

    --report PATH writes the report file in --report-format (json, junit, csv, html), as
    fleet run --report would have; --report-format alone prints that report instead. With
    --temporal: the report of a run that ended on that Temporal server."""
    try:
        _check_format(output_format)
        fmt = parse_format(report_format or "json")
        if report is not None:
            check_report_path(report, report_format)
        if kw.get("temporal"):
            require_extra()
            configure_logs({})
            report_obj = run_sync(temporal_report, kw, run_id)
            document = report_to_dict(report_obj)
        else:
            journal = open_journal(kw.get("state_dir"), writable=False)
            report_obj = report_from_journal(journal, run_id)
            document = journal.report_json(run_id) or report_to_dict(report_obj)
        if report is not None:
            write_document(report, document, fmt)
            err_console.print(f"{fmt} report written to {report}", highlight=False)
    except FleetError as exc:
        raise fail(exc) from exc
    if report is None and report_format is not None:
        sys.stdout.buffer.write(render(document, fmt))
        sys.stdout.flush()
    elif output_format == "json":
        json.dump(document, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        render_summary(Console(), report_obj)
        render_ending(Console(), report_obj)


@with_options(journal_options, connection_overrides, temporal_options)
def resume(
    run_id: str,
    report: ReportOpt = None,
    report_format: ReportFormatOpt = None,
    strict: StrictOpt = False,
    force_unlock: Annotated[
        bool,
        typer.Option(
            "--force-unlock", help="Take over a run whose writer lock names another host."
        ),
    ] = False,
    **kw: Any,
) -> None:
    """Finish a run that was interrupted (crash, kill, lost network).

    Targets that finished keep their result, targets still running in Azure are
    re-attached, the rest are launched. No target is sent the script twice. With --temporal:
    follow a run still in flight there (its workers never stopped) to its report."""
    try:
        fmt = check_report_path(report, report_format)
        if kw.get("temporal"):
            require_extra()
            configure_logs(kw)
            result = run_sync(temporal_resume, kw, run_id)
            finish_run(result, report, strict, Secrets(), fmt)
        journal, recipe, spec = _replayed(run_id, kw)
        if recipe.connection.sim:
            message = (
                f"run {run_id} ran against the simulated fleet inside the fleet process "
                "that ended, so its Azure side is gone: it cannot be resumed."
            )
            raise SpecError(message)
        writer = take_over(journal, run_id, spec, force=force_unlock)  # fails fast
        secrets = Secrets.from_spec(spec)
        result = run_sync(
            _resume, run_id, journal, spec, recipe.connection, writer, secrets=secrets
        )
    except FleetError as exc:
        raise fail(exc) from exc
    finish_run(result, report, strict, secrets, fmt)


async def _resume(
    run_id: str, journal: Journal, spec: JobSpec, connection: Connection, writer: RunWriter
) -> RunReport:
    err_console.print(f"resuming run [bold]{run_id}[/]  job: {spec.name}", highlight=False)
    async with open_backend(connection, journal) as backend:
        control = RunControl(cancel_running=spec.rollout.cancel_running)
        async with anyio.create_task_group() as tg:
            tg.start_soon(relay_signals, control, err_console, spec.rollout.cancel_grace_s)
            title = f"fleet resume {run_id}"
            with TerminalObserver(err_console, title=title, announce=False) as observer:
                report = await resume_async(
                    run_id, journal, spec, backend, control=control, observer=observer,
                    writer=writer,
                )  # fmt: skip
            tg.cancel_scope.cancel()
    return report


@with_options(journal_options, connection_overrides)
def rerun(
    run_id: str,
    failed: Annotated[
        bool,
        typer.Option("--failed", help="Only the targets that did not succeed (required for now)."),
    ] = False,
    report: ReportOpt = None,
    report_format: ReportFormatOpt = None,
    strict: StrictOpt = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    **kw: Any,
) -> None:
    """A new run of an earlier run's job over its failed and not-started targets."""
    try:
        fmt = check_report_path(report, report_format)
        if not failed:
            raise SpecError("fleet rerun needs --failed (rerunning everything is fleet run).")
        journal, recipe, spec = _replayed(run_id, kw)
        wanted = unfinished(journal, run_id)
        if not wanted:
            err_console.print(f"every target of run {run_id} succeeded: nothing to rerun.")
            raise typer.Exit(0)
        again = Recipe(recipe.job, recipe.connection, rerun_of=run_id)
        secrets = Secrets.from_spec(spec)
        result = run_sync(_rerun, spec, again, journal, wanted, yes, secrets=secrets)
    except FleetError as exc:
        raise fail(exc) from exc
    finish_run(result, report, strict, secrets, fmt)


async def _rerun(
    spec: JobSpec, recipe: Recipe, journal: Journal, wanted: frozenset[str], yes: bool
) -> RunReport:
    async with open_backend(recipe.connection, journal) as backend:
        plan = await prepare(spec, backend, only=wanted)
        return await launch(plan, backend, journal=journal, recipe=recipe, yes=yes)

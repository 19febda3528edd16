"""``fleet runs``, ``fleet show``, ``fleet resume`` and ``fleet rerun``: the run journal on the
command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.console import Console
from rich.table import Table

from fleet.cli.durable import open_journal, recipe_for, replay, report_from_journal, run_row
from fleet.cli.options import journal_options, with_options
from fleet.cli.wiring import (
    configure_logs,
    err_console,
    fail,
    finish_run,
    job_spec,
    open_backend,
    run_sync,
)
from fleet.errors import FleetError, SpecError
from fleet.model import RunReport, Status
from fleet.secrets import Secrets

FormatOpt = Annotated[str, typer.Option("--format", help="table or json.")]
ReportOpt = Annotated[Path | None, typer.Option("--report", "-r", help="Write the JSON report.")]
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


def _check_resumable(journal: Any, run_id: str) -> None:
    from fleet.journal import CRASHED, RUNNING

    ended = journal.run(run_id).ended
    if ended not in (RUNNING, CRASHED):
        message = (
            f"run {run_id} already ended ({ended}); there is nothing to resume. "
            f"To run its failed targets again: fleet rerun {run_id} --failed"
        )
        raise SpecError(message)


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json"):
        raise SpecError(f"--format must be table or json, got {fmt!r}.")


def _replayed(run_id: str, kw: dict[str, Any]) -> tuple[Any, dict[str, Any], Any]:
    journal = open_journal(kw.get("state_dir"))
    record = journal.run(run_id)
    flags, text = replay(record, kw)
    flags.update(log_format=kw.get("log_format", "auto"), log_level=kw.get("log_level", "warning"))
    spec = job_spec(flags, spec_text=text)
    configure_logs(flags)
    return journal, flags, spec


def register(app: typer.Typer) -> None:
    @app.command("runs")
    @with_options(journal_options)
    def runs(
        output_format: FormatOpt = "table",
        limit: Annotated[int, typer.Option(help="Show at most this many runs.", min=1)] = 50,
        **kw: Any,
    ) -> None:
        """The run history, newest first: id, job, start, duration, how it ended, outcomes."""
        from fleet.journal import resolve_state_dir
        from fleet.journal.paths import db_path

        try:
            _check_format(output_format)
            if not db_path(resolve_state_dir(kw.get("state_dir"))).exists():
                records = []  # no journal yet: an empty history, not an error
            else:
                records = open_journal(kw.get("state_dir"), writable=False).runs(limit)
        except FleetError as exc:
            raise fail(exc) from exc
        rows = [run_row(r) for r in records]
        if output_format == "json":
            json.dump(rows, sys.stdout, indent=1)
            sys.stdout.write("\n")
            return
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
        Console().print(table)

    @app.command("show")
    @with_options(journal_options)
    def show(run_id: str, output_format: FormatOpt = "table", **kw: Any) -> None:
        """A run's report from the journal (--format json: the JSON of fleet run --report)."""
        from fleet.report.json_report import report_to_dict
        from fleet.report.render import render_summary

        try:
            _check_format(output_format)
            journal = open_journal(kw.get("state_dir"), writable=False)
            report = report_from_journal(journal, run_id)
            stored = journal.report_json(run_id)
        except FleetError as exc:
            raise fail(exc) from exc
        if output_format == "json":
            json.dump(stored or report_to_dict(report), sys.stdout, indent=1)
            sys.stdout.write("\n")
            return
        from fleet.cli.rollout_view import render_ending

        render_summary(Console(), report)
        render_ending(Console(), report)

    @app.command("resume")
    @with_options(journal_options, connection_overrides)
    def resume(
        run_id: str,
        report: ReportOpt = None,
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
        re-attached, the rest are launched. No target is sent the script twice."""
        try:
            journal, flags, spec = _replayed(run_id, kw)
            if flags.get("sim"):
                message = (
                    f"run {run_id} ran against the simulated fleet inside the fleet process "
                    "that ended, so its Azure side is gone: it cannot be resumed."
                )
                raise SpecError(message)
            _check_resumable(journal, run_id)
            writer = journal.resume_run(run_id, spec, force=force_unlock)  # fails fast if locked
            result = run_sync(
                _resume, run_id, journal, spec, flags, writer, secrets=Secrets.from_spec(spec)
            )
        except FleetError as exc:
            raise fail(exc) from exc
        finish_run(result, report, strict)

    @app.command("rerun")
    @with_options(journal_options, connection_overrides)
    def rerun(
        run_id: str,
        failed: Annotated[
            bool,
            typer.Option(
                "--failed", help="Only the targets that did not succeed (required for now)."
            ),
        ] = False,
        report: ReportOpt = None,
        strict: StrictOpt = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
        **kw: Any,
    ) -> None:
        """A new run of an earlier run's job over its failed and not-started targets."""
        try:
            if not failed:
                raise SpecError("fleet rerun needs --failed (rerunning everything is fleet run).")
            journal, flags, spec = _replayed(run_id, kw)
            finals = report_from_journal(journal, run_id).results
            wanted = {r.target.id.lower() for r in finals if r.status is not Status.SUCCEEDED}
            if not wanted:
                err_console.print(f"every target of run {run_id} succeeded: nothing to rerun.")
                raise typer.Exit(0)
            recipe = {**recipe_for(flags), "rerun_of": run_id}
            secrets = Secrets.from_spec(spec)
            result = run_sync(_rerun, spec, flags, journal, wanted, recipe, yes, secrets=secrets)
        except FleetError as exc:
            raise fail(exc) from exc
        finish_run(result, report, strict)


async def _resume(
    run_id: str, journal: Any, spec: Any, flags: dict[str, Any], writer: Any
) -> RunReport:
    from fleet.cli.signals import relay_signals
    from fleet.report.progress import ProgressDisplay
    from fleet.resume import resume_async
    from fleet.rollout.control import RunControl

    err_console.print(f"resuming run [bold]{run_id}[/]  job: {spec.name}", highlight=False)
    async with open_backend(flags, spec) as backend:
        control = RunControl(cancel_running=spec.rollout.cancel_running)
        async with anyio.create_task_group() as tg:
            tg.start_soon(relay_signals, control, err_console, spec.rollout.cancel_grace_s)
            with ProgressDisplay(err_console, title=f"fleet resume {run_id}") as display:
                report = await resume_async(
                    run_id,
                    journal,
                    spec,
                    backend,
                    control=control,
                    on_progress=display.update,
                    writer=writer,
                )
            tg.cancel_scope.cancel()
    return report


async def _rerun(
    spec: Any,
    flags: dict[str, Any],
    journal: Any,
    wanted: set[str],
    recipe: dict[str, Any],
    yes: bool,
) -> RunReport:
    from fleet import api
    from fleet.cli.run_cmd import execute_run

    async with open_backend(flags, spec) as backend:
        fresh = [t for t in await api.select(spec, backend) if t.id.lower() in wanted]
        return await execute_run(spec, backend, fresh, journal=journal, recipe=recipe, yes=yes)

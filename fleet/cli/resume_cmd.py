"""``fleet resume`` and ``fleet rerun``: a recorded run made again from its recipe
(``fleet.spec.Recipe``) — finished after a crash, taken on past a halt (``resume --continue``,
``--exclude``), or run anew over the targets that did not succeed (``rerun --failed``, with the
rollout flags, ``--exclude``, ``-c``, ``--timeout`` or ``--success-exit-codes`` laid over the
recorded job)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer

from fleet.api.history import open_journal, recipe_of, unfinished
from fleet.api.prepare import prepare
from fleet.api.resume import Continuation, check_exclusions, resume_async, take_over
from fleet.cli.config import apply_defaults, load_config
from fleet.cli.exits import err_console, fail
from fleet.cli.launch import launch
from fleet.cli.options import ReportFormatOpt, journal_options, temporal_options, with_options
from fleet.cli.output import OutputOpt, output_format
from fleet.cli.rollout_options import rollout_options
from fleet.cli.signals import relay_signals
from fleet.cli.temporal_cmd import require_extra, temporal_resume
from fleet.cli.terminal import TerminalObserver
from fleet.cli.wiring import (
    check_report_path,
    configure_logs,
    finish_run,
    open_backend,
    run_sync,
)
from fleet.errors import FleetError, SpecError
from fleet.journal import Journal, RunWriter
from fleet.model import JobSpec, RunReport
from fleet.rollout.control import RunControl
from fleet.secrets import Secrets
from fleet.spec import Connection, JobOptions, Recipe
from fleet.spec.overrides import merge_overrides, overrides_from_options

ReportOpt = Annotated[
    Path | None, typer.Option("--report", "-r", help="Write the report (see --report-format).")
]
StrictOpt = Annotated[bool, typer.Option(help="Count skipped targets as failures.")]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        help="Name glob of targets to leave out (repeatable): those not launched yet are "
        "reported Skipped.",
    ),
]

ForceUnlockOpt = Annotated[
    bool,
    typer.Option("--force-unlock", help="Take over a run whose writer lock names another host."),
]
ContinueOpt = Annotated[
    bool,
    typer.Option(
        "--continue",
        help="Go on with a run that a health gate or the error budget halted (or its "
        "deadline, or Ctrl-C), after you have looked: its NotStarted targets are launched "
        "in their batches; finished ones keep their result and no longer spend the budget.",
    ),
]


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


def job_overrides(
    max_concurrency: Annotated[
        str | None,
        typer.Option("--max-concurrency", "-c", help="Targets in flight at once: N or N%."),
    ] = None,
    timeout: Annotated[
        str | None, typer.Option("--timeout", help="Script timeout, e.g. 10m.")
    ] = None,
    success_exit_codes: Annotated[
        str | None,
        typer.Option(
            "--success-exit-codes", help="Exit codes that count as Succeeded, e.g. 0,100."
        ),
    ] = None,
) -> None:
    """(parameters only)"""


def _replayed(run_id: str, kw: dict[str, Any]) -> tuple[Journal, Recipe, JobSpec]:
    """The journal, the run's recipe (with the given connection overrides) and its spec."""
    apply_defaults(kw, subscriptions=False)
    configure_logs(kw)
    journal = open_journal(kw.get("state_dir"))
    recipe = recipe_of(journal, run_id)
    recipe = Recipe(recipe.job, recipe.connection.overridden(kw), recipe.rerun_of)
    return journal, recipe, recipe.job_spec()


@with_options(journal_options, connection_overrides, temporal_options)
def resume(
    run_id: str,
    report: ReportOpt = None,
    report_format: ReportFormatOpt = None,
    strict: StrictOpt = False,
    force_unlock: ForceUnlockOpt = False,
    go_on: ContinueOpt = False,
    exclude: ExcludeOpt = None,
    output: OutputOpt = None,
    **kw: Any,
) -> None:
    """Finish a run that was interrupted (crash, kill, lost network), or go on past a halt.

    Targets that finished keep their result, targets still running in Azure are
    re-attached, the rest are launched. No target is sent the script twice. With --temporal:
    follow a run still in flight there (its workers never stopped) to its report."""
    try:
        report_fmt = check_report_path(report, report_format)
        if kw.get("temporal"):
            fmt = output_format(output, default=load_config().output)
            if go_on or exclude:
                raise SpecError("--continue and --exclude are not supported with --temporal.")
            require_extra()
            configure_logs(kw)
            result = run_sync(temporal_resume, kw, run_id)
            finish_run(result, report, strict, Secrets(), fmt, report_fmt)
        journal, recipe, spec = _replayed(run_id, kw)
        fmt = output_format(output, default=load_config().output)
        if recipe.connection.sim:
            message = (
                f"run {run_id} ran against the simulated fleet inside the fleet process "
                "that ended, so its Azure side is gone: it cannot be resumed."
            )
            raise SpecError(message)
        how = Continuation(past_halt=go_on, exclude=tuple(exclude or ()))
        check_exclusions(journal, run_id, how.exclude)
        writer = take_over(journal, run_id, spec, force=force_unlock, past_halt=go_on)
        secrets = Secrets.from_spec(spec)
        result = run_sync(
            _resume, run_id, journal, spec, recipe.connection, writer, how, secrets=secrets
        )
    except FleetError as exc:
        raise fail(exc) from exc
    finish_run(result, report, strict, secrets, fmt, report_fmt)


async def _resume(
    run_id: str,
    journal: Journal,
    spec: JobSpec,
    connection: Connection,
    writer: RunWriter,
    how: Continuation,
) -> RunReport:
    verb = "continuing" if how.past_halt else "resuming"
    err_console.print(f"{verb} run [bold]{run_id}[/]  job: {spec.name}", highlight=False)
    async with open_backend(connection, journal, spec.output) as backend:
        control = RunControl(cancel_running=spec.rollout.cancel_running)
        async with anyio.create_task_group() as tg:
            tg.start_soon(relay_signals, control, err_console, spec.rollout.cancel_grace_s)
            title = f"fleet resume {run_id}"
            with TerminalObserver(err_console, title=title, announce=False) as observer:
                report = await resume_async(
                    run_id, journal, spec, backend, control=control, observer=observer,
                    writer=writer, how=how, outputs_root=journal.state_dir / "outputs",
                )  # fmt: skip
            tg.cancel_scope.cancel()
    return report


@with_options(journal_options, connection_overrides, rollout_options, job_overrides)
def rerun(
    run_id: str,
    failed: Annotated[
        bool,
        typer.Option("--failed", help="Only the targets that did not succeed (required for now)."),
    ] = False,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Name glob of targets to leave out (repeatable)."),
    ] = None,
    report: ReportOpt = None,
    report_format: ReportFormatOpt = None,
    strict: StrictOpt = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    output: OutputOpt = None,
    **kw: Any,
) -> None:
    """A new run of an earlier run's job over its failed and not-started targets.

    The rollout flags, --exclude, -c, --timeout and --success-exit-codes change the job for
    this run (the new run records them)."""
    try:
        fmt = output_format(output, default=load_config().output)
        report_fmt = check_report_path(report, report_format)
        if not failed:
            raise SpecError("fleet rerun needs --failed (rerunning everything is fleet run).")
        journal, recipe, _ = _replayed(run_id, kw)
        check_exclusions(journal, run_id, tuple(exclude or ()))
        changes = overrides_from_options(JobOptions.from_flags({**kw, "exclude_name": exclude}))
        job = replace(recipe.job, overrides=merge_overrides(recipe.job.overrides, changes))
        again = Recipe(job, recipe.connection, rerun_of=run_id)
        spec = again.job_spec()
        wanted = unfinished(journal, run_id)
        if not wanted:
            err_console.print(f"every target of run {run_id} succeeded: nothing to rerun.")
            raise typer.Exit(0)
        secrets = Secrets.from_spec(spec)
        result = run_sync(_rerun, spec, again, journal, wanted, yes, secrets=secrets)
    except FleetError as exc:
        raise fail(exc) from exc
    finish_run(result, report, strict, secrets, fmt, report_fmt)


async def _rerun(
    spec: JobSpec, recipe: Recipe, journal: Journal, wanted: frozenset[str], yes: bool
) -> RunReport:
    async with open_backend(recipe.connection, journal, spec.output) as backend:
        plan = await prepare(spec, backend, only=wanted, history=journal)
        return await launch(
            plan, backend, journal=journal, recipe=recipe, yes=yes,
            outputs_root=journal.state_dir / "outputs",
        )  # fmt: skip

"""``fleet run``, ``fleet targets`` and ``fleet plan``: parse the job, wire a backend, call the
library (``fleet.api``), render. ``fleet run`` plans once: the plan it shows and asks about is
the plan that runs, and the recipe it journals is the job document that was parsed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fleet.api.estimate import estimate
from fleet.api.history import open_journal
from fleet.api.prepare import preflight, prepare, select
from fleet.cli.launch import launch
from fleet.cli.options import (
    ReportFormatOpt,
    connection_options,
    job_name_option,
    journal_options,
    script_options,
    selection_options,
    temporal_options,
    with_options,
)
from fleet.cli.rollout_options import rollout_options
from fleet.cli.rollout_view import plan_table
from fleet.cli.temporal_cmd import HeartbeatOpt, require_extra, run_on_temporal
from fleet.cli.wiring import (
    check_report_path,
    configure_logs,
    fail,
    finish_run,
    open_backend,
    run_sync,
)
from fleet.errors import FleetError, SpecError
from fleet.journal import Journal
from fleet.model import JobSpec, RunPlan, RunReport, Target
from fleet.report.json_report import target_fields
from fleet.secrets import Secrets
from fleet.spec import Connection, ParsedJob, Recipe, job_from_flags

RUN_HELP = """Run a script on every selected VM and scale-set instance.

Give a job spec (see configs/jobs/) or describe the job with flags. Examples:

  fleet run configs/jobs/health-check.yaml --sim

  fleet run --sim -t env=prod -t role=web --script 'uptime' --report out.xml --report-format junit

  FLEET_ACCESS_TOKEN=... fleet run job.yaml --arm-endpoint https://127.0.0.1:8443 --ca-cert ca.pem

Rollout: batches (--batches 1,5,10%,100%), order (--order zone-by-zone), an error
budget (--max-errors), soak pauses, health gates (job file), a --deadline. More than 10
targets (--confirm-over) asks first; without a terminal, pass --yes. Ctrl-C once: no new
launches, running targets finish (within --cancel-grace), the report is written; twice
(or --cancel-running): in-flight run commands are deleted and reported Canceled.

On Temporal (--temporal HOST:PORT): the plan is made and confirmed here, then
the run is a workflow that fleet workers run (see fleet worker); this command
shows its progress and report, and may be killed: the run goes on, and
fleet show RUN_ID --temporal HOST:PORT gives its report.

Exit codes: 0 every target succeeded (skipped ones too, unless --strict), 1 some target
failed, 2 bad input or not confirmed (nothing was sent to Azure), 3 the run did not
complete (error budget, gate, deadline, canceled).
"""


def _targets_table(targets: list[Target], skipped: set[str]) -> Table:
    table = Table(title=f"{len(targets)} targets")
    for col in (
        "name",
        "kind",
        "subscription",
        "resource group",
        "location",
        "zone",
        "os",
        "power",
    ):
        table.add_column(col, no_wrap=col == "name")
    for t in targets:
        power = t.power_state or "?"
        style = "yellow" if t.id.lower() in skipped else None
        table.add_row(
            t.name,
            t.kind.value,
            t.subscription[:8] + "…",
            t.resource_group,
            t.location,
            t.zone or "-",
            t.os or "?",
            power,
            style=style,
        )
    return table


ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report",
        "-r",
        help="Write the report here (see --report-format).",
        rich_help_panel="Output",
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        help="Count skipped targets as failures for the exit code.", rich_help_panel="Output"
    ),
]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.", rich_help_panel="Output")
]
NoJournalOpt = Annotated[
    bool,
    typer.Option(
        "--no-journal",
        help="Do not record the run (it cannot be resumed or shown later).",
        rich_help_panel="Output",
    ),
]
FormatOpt = Annotated[str, typer.Option("--format", help="table or json.")]


@with_options(
    selection_options,
    job_name_option,
    script_options,
    rollout_options,
    connection_options,
    journal_options,
    temporal_options,
)
def run(
    report: ReportOpt = None,
    report_format: ReportFormatOpt = None,
    strict: StrictOpt = False,
    yes: YesOpt = False,
    no_journal: NoJournalOpt = False,
    heartbeat: HeartbeatOpt = 20.0,
    **kw: Any,
) -> None:
    try:
        fmt = check_report_path(report, report_format)
        configure_logs(kw)
        if kw.get("temporal"):
            require_extra()
        job = job_from_flags(kw)  # the job file is read here, once
        connection = Connection.from_flags(kw)
        secrets = Secrets.from_spec(job.spec)
        if kw.get("temporal"):  # the run lives on Temporal: no local journal
            on = {**kw, "heartbeat": heartbeat}
            result = run_sync(run_on_temporal, job, connection, yes, on, secrets=secrets)
        else:
            journal = None if no_journal else open_journal(kw.get("state_dir"))
            result = run_sync(_run, job, connection, journal, yes, secrets=secrets)
    except FleetError as exc:
        raise fail(exc) from exc
    finish_run(result, report, strict, secrets, fmt)


async def _run(
    job: ParsedJob, connection: Connection, journal: Journal | None, yes: bool
) -> RunReport:
    recipe = Recipe(job.document, connection) if journal is not None else None
    async with open_backend(connection, journal) as backend:
        plan = await prepare(job.spec, backend)  # sentinels too: their errors come first
        return await launch(plan, backend, journal=journal, recipe=recipe, yes=yes)


@with_options(selection_options, job_name_option, connection_options)
def targets(output_format: FormatOpt = "table", **kw: Any) -> None:
    """List what a job spec (or flags) selects, with power state. Writes nothing."""
    try:
        if output_format not in ("table", "json"):
            raise SpecError(f"--format must be table or json, got {output_format!r}.")
        spec = selection_only_spec(kw)
        configure_logs(kw)
        found = run_sync(_select, spec, Connection.from_flags(kw))
    except FleetError as exc:
        raise fail(exc) from exc
    _, skipped = preflight(found)
    if output_format == "json":
        json.dump([_target_json(t) for t in found], sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    Console().print(_targets_table(found, {r.target.id.lower() for r in skipped}))


@with_options(selection_options, job_name_option, rollout_options, connection_options)
def plan(**kw: Any) -> None:
    """Show what a run would do, without writing anything.

    Targets and skips, the rollout's batches in order (each target with its zone and fault
    domain, per-batch ETA), the launch ETA and the ARM request estimate from the throttle
    model."""
    try:
        spec = selection_only_spec(kw)
        configure_logs(kw)
        prepared = run_sync(_prepare, spec, Connection.from_flags(kw))
    except FleetError as exc:
        raise fail(exc) from exc
    runnable, skipped = prepared.targets, prepared.skipped
    console = Console()
    console.print(_targets_table(list(prepared.selected), {r.target.id.lower() for r in skipped}))
    console.print(plan_table(prepared))
    est = estimate(runnable)
    console.print(
        f"[bold]{len(runnable)}[/] to run, [bold]{len(skipped)}[/] skipped (not running).\n"
        f"Launching every run command takes about [bold]{est.launch_text}[/] "
        f"(bound: {est.binding}), plus the script's own run time.\n"
        f"ARM requests: about {est.writes} writes and {est.reads} reads."
    )


def selection_only_spec(kw: dict[str, Any]) -> JobSpec:
    """``targets``/``plan`` accept the job flags without a script: use a placeholder script."""
    if kw.get("spec") is None and not any(
        kw.get(k) for k in ("script", "script_file", "script_uri", "command_id")
    ):
        kw = {**kw, "script": "true"}
    return job_from_flags(kw).spec


def _target_json(t: Target) -> dict[str, Any]:
    return {
        **target_fields(t),
        "os": t.os,
        "power_state": t.power_state,
        "scale_set": t.scale_set,
        "tags": dict(t.tags),
    }


async def _select(spec: JobSpec, connection: Connection) -> list[Target]:
    async with open_backend(connection) as backend:
        return await select(spec, backend)


async def _prepare(spec: JobSpec, connection: Connection) -> RunPlan:
    async with open_backend(connection) as backend:
        return await prepare(spec, backend)

"""``fleet run``, ``fleet targets`` and ``fleet plan``: parse the job, wire a backend, call the
library (``fleet.api``), render. ``fleet run`` plans once: the plan it shows and asks about is
the plan that runs, and the recipe it journals is the job document that was parsed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fleet.api.history import open_journal
from fleet.api.prepare import preflight, prepare, require_targets, select
from fleet.cli.checks import check_os_fit, warn_plain_secrets
from fleet.cli.config import apply_defaults
from fleet.cli.exits import fail
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
from fleet.cli.output import FormatOpt, OutputOpt, output_format
from fleet.cli.output_options import output_options
from fleet.cli.rollout_options import rollout_options
from fleet.cli.temporal_cmd import HeartbeatOpt, require_extra, run_on_temporal
from fleet.cli.views import show_plan, show_targets
from fleet.cli.wiring import (
    check_report_path,
    configure_logs,
    finish_run,
    open_backend,
    outputs_root,
    run_sync,
)
from fleet.errors import FleetError, JournalError
from fleet.journal import Journal
from fleet.model import JobSpec, RunPlan, RunReport, Target
from fleet.secrets import Secrets
from fleet.spec import Connection, ParsedJob, Recipe, job_from_flags

SCRIPT_FLAGS = (
    "script", "script_file", "script_uri", "command_id", "windows_script", "windows_script_file",
)  # fmt: skip

RUN_HELP = """Run a script on every selected VM and scale-set instance.

Give a job spec (see configs/jobs/) or describe the job with flags. Examples:

  fleet run configs/jobs/health-check.yaml --sim

  fleet run --sim -t env=prod -t role=web --script 'uptime' --report out.xml --report-format junit

  FLEET_ACCESS_TOKEN=... fleet run job.yaml --arm-endpoint https://127.0.0.1:8443 --ca-cert ca.pem

Rollout: batches (--batches 1,5,10%,100%), order (--order zone-by-zone), an error
budget (--max-errors), soak pauses, health gates (job file), a --deadline, reboots after the
script (--reboot if-required --reboot-exit-codes 100: restarted once, waited for until running
with the agent Ready, else RebootTimedOut). More than 10 targets (--confirm-over) asks first;
without a terminal, pass --yes. Ctrl-C once: no new launches (no new restarts), running
targets finish (within --cancel-grace), the report is written; twice (or --cancel-running):
in-flight run commands are deleted and reported Canceled (with --mode action nothing can stop
a running command: a stop only stops launching).

--mode action uses the older action Run Command (az vm run-command invoke): one command at
a time per VM, no cancel, and fleet recovers each script's exit code from its output.

Output: -o table (default), json (the report) or tsv (a line per target).

On Temporal (--temporal HOST:PORT): the plan is made and confirmed here, then
the run is a workflow that fleet workers run (see fleet worker); this command
shows its progress and report, and may be killed: the run goes on, and
fleet show RUN_ID --temporal HOST:PORT gives its report.

Exit codes: 0 every target succeeded (skipped ones too, unless --strict), 1 some target
failed, 2 bad input, nothing selected (unless --allow-empty) or not confirmed (nothing was
sent to Azure), 3 the run did not complete (error budget, gate, deadline, canceled; fleet
resume RUN_ID --continue goes on), 4 Azure could not be reached or refused access, 5 the
report could not be written, 70 a bug in fleet (fleet --debug shows the traceback).
"""


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


@with_options(
    selection_options,
    job_name_option,
    script_options,
    rollout_options,
    output_options,
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
    output: OutputOpt = None,
    **kw: Any,
) -> None:
    try:
        config = apply_defaults(kw)
        fmt = output_format(output, default=config.output)
        report_fmt = check_report_path(report, report_format)
        configure_logs(kw)
        if kw.get("temporal"):
            require_extra()
        job = job_from_flags(kw)  # the job file is read here, once
        warn_plain_secrets(job)
        connection = Connection.from_flags(kw)
        secrets = Secrets.from_spec(job.spec)
        if kw.get("temporal"):  # the run lives on Temporal: no local journal
            on = {**kw, "heartbeat": heartbeat}
            result = run_sync(run_on_temporal, job, connection, yes, on, secrets=secrets)
        else:
            journal = None if no_journal else open_journal(kw.get("state_dir"))
            how = (yes, bool(kw.get("allow_empty")), outputs_root(journal, report))
            result = run_sync(_run, job, connection, journal, how, secrets=secrets)
    except FleetError as exc:
        raise fail(exc) from exc
    finish_run(result, report, strict, secrets, fmt, report_fmt)


async def _run(
    job: ParsedJob,
    connection: Connection,
    journal: Journal | None,
    how: tuple[bool, bool, Path | None],
) -> RunReport:
    """``how``: (--yes, --allow-empty, where full outputs go)."""
    yes, allow_empty, where = how
    recipe = Recipe(job.document, connection) if journal is not None else None
    async with open_backend(connection, journal, job.spec.output) as backend:
        # sentinels too: their errors come first; the job's history orders each batch
        plan = await prepare(job.spec, backend, allow_empty=allow_empty, history=journal)
        check_os_fit(plan, job)
        return await launch(
            plan, backend, journal=journal, recipe=recipe, yes=yes, outputs_root=where
        )


@with_options(selection_options, job_name_option, script_options, connection_options)
def targets(output: OutputOpt = None, output_format_: FormatOpt = None, **kw: Any) -> None:
    """List what a job spec (or flags) selects, with power state. Writes nothing.

    Takes the same flags as fleet run (a script is not needed)."""
    try:
        config = apply_defaults(kw)
        fmt = output_format(output, output_format_, default=config.output)
        job = selection_job(kw)
        configure_logs(kw)
        found = run_sync(_select, job.spec, Connection.from_flags(kw))
        if not kw.get("allow_empty"):
            require_targets(job.spec, found)
    except FleetError as exc:
        raise fail(exc) from exc
    _, skipped = preflight(found)
    show_targets(found, {r.target.id.lower() for r in skipped}, fmt)


@with_options(
    selection_options,
    job_name_option,
    script_options,
    rollout_options,
    connection_options,
    journal_options,
)
def plan(output: OutputOpt = None, **kw: Any) -> None:
    """Show what a run would do, without writing anything.

    Targets and skips, the rollout's batches in order (each target with its zone and fault
    domain, per-batch ETA), the launch ETA and the ARM request estimate from the throttle
    model. Takes the same flags as fleet run (a script is not needed). When the journal has
    earlier runs of the job: each batch longest-expected first and the expected ETA from their
    run times."""
    try:
        config = apply_defaults(kw)
        fmt = output_format(output, default=config.output)
        job = selection_job(kw)
        warn_plain_secrets(job)
        configure_logs(kw)
        allow_empty = bool(kw.get("allow_empty"))
        history = _history(kw.get("state_dir"))
        prepared = run_sync(_prepare, job, Connection.from_flags(kw), allow_empty, history)
    except FleetError as exc:
        raise fail(exc) from exc
    show_plan(prepared, fmt)


def selection_job(kw: dict[str, Any]) -> ParsedJob:
    """``targets``, ``plan`` and ``clean`` accept the job flags without a script: then a
    placeholder script for every OS (nothing is sent), so only power states decide the skips."""
    if kw.get("spec") is None and not any(kw.get(k) for k in SCRIPT_FLAGS):
        kw = {**kw, "script": "true", "windows_script": "$null"}
    return job_from_flags(kw)


def selection_only_spec(kw: dict[str, Any]) -> JobSpec:
    """:func:`selection_job`, the spec only."""
    return selection_job(kw).spec


async def _select(spec: JobSpec, connection: Connection) -> list[Target]:
    async with open_backend(connection) as backend:
        return await select(spec, backend)


def _history(state_dir: Path | None) -> Journal | None:
    """The journal to learn the job's run times from, read-only; None when there is none yet
    (a job that never ran is planned blind to durations, as its first run will be)."""
    try:
        return open_journal(state_dir, writable=False)
    except JournalError:
        return None


async def _prepare(
    job: ParsedJob, connection: Connection, allow_empty: bool, history: Journal | None
) -> RunPlan:
    async with open_backend(connection) as backend:
        plan = await prepare(job.spec, backend, allow_empty=allow_empty, history=history)
        check_os_fit(plan, job)
        return plan

"""``fleet run``, ``fleet targets`` and ``fleet plan``: wire a backend, call the library, render."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.console import Console
from rich.table import Table

from fleet import api
from fleet.cli.options import (
    connection_options,
    journal_options,
    script_options,
    selection_options,
    with_options,
)
from fleet.cli.rollout_options import rollout_options
from fleet.cli.wiring import (
    check_report_path,
    configure_logs,
    err_console,
    fail,
    finish_run,
    job_spec,
    open_backend,
    run_sync,
)
from fleet.errors import FleetError, SpecError
from fleet.model import JobSpec, RunReport, Target
from fleet.secrets import Secrets

RUN_HELP = """Run a script on every selected VM and scale-set instance.

Give a job spec (see configs/jobs/) or describe the job with flags. Examples:

  fleet run configs/jobs/health-check.yaml --sim

  fleet run --sim -t env=prod -t role=web --script 'uptime' --report out.json

  FLEET_ACCESS_TOKEN=... fleet run job.yaml --arm-endpoint https://127.0.0.1:8443 --ca-cert ca.pem

Rollout: batches (--batches 1,5,10%,100%), order (--order zone-by-zone), an error
budget (--max-errors), soak pauses, health gates (job file), a --deadline. More than 10
targets (--confirm-over) asks first; without a terminal, pass --yes. Ctrl-C once: no new
launches, running targets finish (within --cancel-grace), the report is written; twice
(or --cancel-running): in-flight run commands are deleted and reported Canceled.

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


def register(app: typer.Typer) -> None:
    @app.command("run", help=RUN_HELP)
    @with_options(
        selection_options, script_options, rollout_options, connection_options, journal_options
    )
    def run(
        report: Annotated[
            Path | None,
            typer.Option(
                "--report", "-r", help="Write the JSON report here.", rich_help_panel="Output"
            ),
        ] = None,
        strict: Annotated[
            bool,
            typer.Option(
                help="Count skipped targets as failures for the exit code.",
                rich_help_panel="Output",
            ),
        ] = False,
        yes: Annotated[
            bool,
            typer.Option(
                "--yes", "-y", help="Do not ask for confirmation.", rich_help_panel="Output"
            ),
        ] = False,
        no_journal: Annotated[
            bool,
            typer.Option(
                "--no-journal",
                help="Do not record the run (it cannot be resumed or shown later).",
                rich_help_panel="Output",
            ),
        ] = False,
        **kw: Any,
    ) -> None:
        try:
            check_report_path(report)
            spec = job_spec(kw)
            configure_logs(kw)
            kw = {**kw, "no_journal": no_journal}
            result = run_sync(_run, spec, kw, yes, secrets=Secrets.from_spec(spec))
        except FleetError as exc:
            raise fail(exc) from exc
        finish_run(result, report, strict)

    @app.command("targets")
    @with_options(selection_options, connection_options)
    def targets(
        output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
        **kw: Any,
    ) -> None:
        """List what a job spec (or flags) selects, with power state. Writes nothing."""
        try:
            if output_format not in ("table", "json"):
                raise SpecError(f"--format must be table or json, got {output_format!r}.")
            kw.setdefault("script", None)
            spec = _selection_only_spec(kw)
            configure_logs(kw)
            found = run_sync(_select, spec, kw)
        except FleetError as exc:
            raise fail(exc) from exc
        _, skipped = api.preflight(found)
        if output_format == "json":
            rows = [_target_json(t) for t in found]
            json.dump(rows, sys.stdout, indent=1)
            sys.stdout.write("\n")
            return
        Console().print(_targets_table(found, {r.target.id.lower() for r in skipped}))

    @app.command("plan")
    @with_options(selection_options, rollout_options, connection_options)
    def plan(**kw: Any) -> None:
        """Show what a run would do, without writing anything.

        Targets and skips, the rollout's batches in order (each target with its zone and fault
        domain, per-batch ETA), the launch ETA and the ARM request estimate from the throttle
        model."""
        from fleet.cli.rollout_view import plan_table
        from fleet.plan import estimate

        try:
            spec = _selection_only_spec(kw)
            configure_logs(kw)
            found = run_sync(_select, spec, kw)
        except FleetError as exc:
            raise fail(exc) from exc
        rollout, skipped = api.plan(spec, found)
        runnable = rollout.targets
        console = Console()
        console.print(_targets_table(found, {r.target.id.lower() for r in skipped}))
        console.print(plan_table(spec, rollout))
        est = estimate(runnable)
        console.print(
            f"[bold]{len(runnable)}[/] to run, [bold]{len(skipped)}[/] skipped (not running).\n"
            f"Launching every run command takes about [bold]{est.launch_text}[/] "
            f"(bound: {est.binding}), plus the script's own run time.\n"
            f"ARM requests: about {est.writes} writes and {est.reads} reads."
        )


def _selection_only_spec(kw: dict[str, Any]) -> JobSpec:
    """``targets``/``plan`` accept the job flags without a script: use a placeholder script."""
    if kw.get("spec") is None and not any(
        kw.get(k) for k in ("script", "script_file", "script_uri", "command_id")
    ):
        kw = {**kw, "script": "true"}
    return job_spec(kw)


def _target_json(t: Target) -> dict[str, Any]:
    from fleet.report.json_report import target_fields

    return {
        **target_fields(t),
        "os": t.os,
        "power_state": t.power_state,
        "scale_set": t.scale_set,
        "tags": dict(t.tags),
    }


async def _select(spec: JobSpec, kw: dict[str, Any]) -> list[Target]:
    async with open_backend(kw, spec) as backend:
        return await api.select(spec, backend)


async def _run(spec: JobSpec, kw: dict[str, Any], yes: bool) -> RunReport:
    from fleet.cli.durable import open_journal, recipe_for

    journal = None if kw.get("no_journal") else open_journal(kw.get("state_dir"))
    recipe = recipe_for(kw) if journal is not None else None
    async with open_backend(kw, spec) as backend:
        targets = await api.select(spec, backend)
        return await execute_run(spec, backend, targets, journal=journal, recipe=recipe, yes=yes)


async def execute_run(
    spec: JobSpec,
    backend: api.Backend,
    targets: list[Target],
    *,
    journal: Any,
    recipe: dict[str, Any] | None,
    yes: bool,
) -> RunReport:
    """Confirm the plan, then run it with progress, signal handling and the journal."""
    from fleet.cli.rollout_view import confirm_run
    from fleet.cli.signals import relay_signals
    from fleet.report.progress import ProgressDisplay
    from fleet.rollout.control import RunControl

    run_id = api.new_run_id()
    rollout, skipped = api.plan(spec, targets)
    interactive = sys.stdin.isatty() and err_console.is_terminal
    # Blocks the event loop while the operator reads the plan: nothing is in flight yet.
    confirm_run(
        err_console, spec, rollout, skipped, yes=yes, interactive=interactive,
        ask=err_console.input,
    )  # fmt: skip

    def announce(run_id: str) -> None:
        err_console.print(
            f"run id: [bold]{run_id}[/]  job: {spec.name}  batches: {len(rollout.batches)}",
            highlight=False,
        )

    control = RunControl(cancel_running=spec.rollout.cancel_running)
    async with anyio.create_task_group() as tg:
        tg.start_soon(relay_signals, control, err_console, spec.rollout.cancel_grace_s)
        with ProgressDisplay(err_console, title=f"fleet run {spec.name}") as display:
            report = await api.run_async(
                spec, backend, run_id=run_id, targets=targets, on_progress=display.update,
                control=control, journal=journal, recipe=recipe, on_started=announce,
            )  # fmt: skip
        tg.cancel_scope.cancel()
    return report

"""CLI wiring: flags → job spec and connection; opens the backend (the embedded emulator for
``--sim``); maps FleetError to exit codes with a clear message. No engine logic here.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import typer
from rich.console import Console
from rich.panel import Panel

from fleet.api import Backend
from fleet.errors import FleetError, SpecError
from fleet.model import JobSpec, RunReport, Secret

err_console = Console(stderr=True)
T = TypeVar("T")


def run_sync(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """``anyio.run``, with a FleetError raised inside a task group unwrapped from its
    exception group (so it still becomes a clear message and its exit code)."""
    try:
        return anyio.run(fn, *args)
    except BaseExceptionGroup as group:
        matched, _rest = group.split(FleetError)
        if matched is not None:
            first = matched.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from group
        raise


def fail(exc: FleetError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def rollout_flags(kw: dict[str, Any]) -> Any:
    """The rollout flags given on the command line (``fleet.spec.RolloutOptions``)."""
    from fleet.spec import RolloutOptions

    return RolloutOptions(
        batches=kw.get("batches"),
        order=kw.get("order"),
        seed=kw.get("seed"),
        max_errors=kw.get("max_errors"),
        count_platform_failures=bool(kw.get("count_platform_failures")),
        pause=kw.get("pause"),
        deadline=kw.get("deadline"),
        cancel_grace=kw.get("cancel_grace"),
        cancel_running=bool(kw.get("cancel_running")),
        confirm_over=kw.get("confirm_over"),
    )


def job_spec(kw: dict[str, Any], spec_text: str | None = None) -> JobSpec:
    """The job spec from a file or the job flags; ``spec_text`` replays a file's recorded
    content (``fleet resume``)."""
    from fleet.spec import JobOptions, job_spec_from_options, load_job_spec

    spec_path: Path | None = kw.get("spec")
    flag_names = (
        "tag",
        "resource_group",
        "target_name",
        "query",
        "script",
        "script_file",
        "script_uri",
        "command_id",
        "param",
        "protected_param",
        "exclude_name",
        "exclude_tag",
        "run_as_user",
        "run_as_password_env",
        "timeout",
        "max_concurrency",
        "job_name",
        "all_targets",
    )
    given = [n for n in flag_names if kw.get(n)]
    if spec_path is not None:
        if given:
            flags = ", ".join("--" + n.replace("_", "-") for n in given)
            message = (
                f"Give either a job spec file or job flags, not both (got {spec_path} "
                f"and {flags}). Put the settings in the spec file instead."
            )
            raise SpecError(message)
        return load_job_spec(spec_path, rollout=rollout_flags(kw), text=spec_text)
    opts = JobOptions(
        name=kw.get("job_name") or "adhoc",
        subscriptions=tuple(kw.get("subscription") or ()),
        tags=tuple(kw.get("tag") or ()),
        resource_groups=tuple(kw.get("resource_group") or ()),
        names=tuple(kw.get("target_name") or ()),
        query=kw.get("query"),
        include_scale_sets=not kw.get("no_scale_sets", False),
        exclude_names=tuple(kw.get("exclude_name") or ()),
        exclude_tags=tuple(kw.get("exclude_tag") or ()),
        script=kw.get("script"),
        script_file=kw.get("script_file"),
        script_uri=kw.get("script_uri"),
        command_id=kw.get("command_id"),
        parameters=tuple(kw.get("param") or ()),
        protected_parameters=tuple(kw.get("protected_param") or ()),
        run_as_user=kw.get("run_as_user"),
        run_as_password_env=kw.get("run_as_password_env"),
        timeout=kw.get("timeout"),
        max_concurrency=kw.get("max_concurrency"),
        all_targets=bool(kw.get("all_targets")),
        rollout=rollout_flags(kw),
    )
    return job_spec_from_options(opts)


def _banner(profile: str, time_scale: float) -> None:
    text = (
        f"[bold]SIMULATED FLEET[/] — profile {profile}, time scale x{time_scale:g}. "
        "Nothing here touches Azure; times shown are Azure-equivalent only in the report's "
        "timestamps."
    )
    err_console.print(Panel(text, border_style="yellow"), highlight=False)


@asynccontextmanager
async def open_backend(kw: dict[str, Any], spec: JobSpec | None = None) -> AsyncIterator[Backend]:
    from fleet.azure.backend import ConnectionSettings, azure_backend

    subs = tuple(kw.get("subscription") or ())
    if kw.get("sim"):
        from fleet.sim import catalog
        from fleet.sim.emulator import Emulator
        from fleet.sim.profile import ProfileError

        try:
            profile = catalog.load(kw["profile"])
        except ProfileError as exc:
            raise SpecError(str(exc)) from exc
        scale = float(kw.get("time_scale") or 1.0)
        _banner(kw["profile"], scale)
        async with Emulator(profile, time_scale=scale) as emu:
            settings = ConnectionSettings(
                arm_endpoint=emu.info.endpoint,
                ca_cert=emu.info.ca_cert,
                token=Secret(emu.token),
                subscriptions=subs or tuple(emu.info.subscriptions),
                time_scale=scale,
            )
            async with azure_backend(settings) as backend:
                yield backend
        return
    token = os.environ.get("FLEET_ACCESS_TOKEN")
    ca = kw.get("ca_cert")
    settings = ConnectionSettings(
        cloud=kw.get("cloud") or "public",
        arm_endpoint=kw.get("arm_endpoint"),
        ca_cert=str(ca) if ca else None,
        token=Secret(token) if token else None,
        subscriptions=subs,
    )
    async with azure_backend(settings) as backend:
        yield backend


def finish_run(result: RunReport, report: Path | None, strict: bool) -> None:
    """Write the JSON report, render the summary and exit with the run's exit code."""
    from fleet.cli.rollout_view import render_ending
    from fleet.report.groups import group_results
    from fleet.report.json_report import exit_code_for, write_report
    from fleet.report.render import render_summary

    groups = group_results(result.results)  # once: grouping 10,000 outputs is not free
    render_summary(Console(), result, groups=groups)
    render_ending(Console(), result)
    if report is not None:
        try:
            write_report(report, result, groups=groups)
            err_console.print(f"report written to {report}")
        except FleetError as exc:  # the run happened: keep its outcome, say how to get the JSON
            err_console.print(
                f"[bold red]error:[/] {exc} — the run is in the journal: "
                f"fleet show {result.run_id} --format json",
                highlight=False,
            )
    raise typer.Exit(exit_code_for(result, strict=strict))


def check_report_path(report: Path | None) -> None:
    """Refuse a report path that cannot be written before anything runs (exit 2)."""
    if report is None:
        return
    parent = report.resolve().parent
    if report.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
        why = "it is a directory" if report.is_dir() else f"{parent} is not a writable directory"
        message = f"--report {report}: cannot write there ({why}). Give a writable file path."
        raise SpecError(message)

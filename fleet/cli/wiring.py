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
from rich.console import Console
from rich.panel import Panel

from fleet import logs
from fleet.errors import FleetError, SpecError
from fleet.model import OutputSpec, RunReport, Secret
from fleet.ports import Backend
from fleet.secrets import NO_SECRETS, Secrets, using
from fleet.spec import Connection

if TYPE_CHECKING:
    from fleet.azure.backend import ConnectionSettings, OutputsFor
    from fleet.journal import Journal
    from fleet.sim.azurite import AzuriteInfo

#: The CA to trust for an output storage endpoint of one's own (an Azurite of `fleet sim serve
#: --azurite`); Azure's public endpoints need none.
STORAGE_CA_ENV = "FLEET_STORAGE_CA_CERT"

err_console = Console(stderr=True)
T = TypeVar("T")


def configure_logs(kw: dict[str, Any]) -> None:
    """Structured logs as ``--log-format`` / ``--log-level`` say (checked: exit 2 if bad)."""
    fmt, level = kw.get("log_format", "auto"), kw.get("log_level", "warning")
    if fmt not in ("auto", "console", "json"):
        raise SpecError(f"--log-format must be auto, console or json, got {fmt!r}.")
    if level.lower() not in ("debug", "info", "warning", "error"):
        raise SpecError(f"--log-level must be debug, info, warning or error, got {level!r}.")
    logs.configure(level, fmt)


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


def fail(exc: FleetError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


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
async def open_backend(
    connection: Connection, output: OutputSpec | None = None
) -> AsyncIterator[Backend]:
    """The backend of ``connection``: the embedded emulator (``sim``), or ARM with the token
    from ``FLEET_ACCESS_TOKEN`` (custom endpoints) or ``DefaultAzureCredential``. ``output``:
    the job's output storage; with ``--sim`` an Azurite is started for it (and stopped)."""
    from fleet.azure.backend import ConnectionSettings, azure_backend

    if connection.sim:
        async with (
            _emulated(connection, output) as (settings, outputs),
            azure_backend(settings, outputs=outputs) as backend,
        ):
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
    outputs = _storage(None, aad=connection.arm_endpoint is None)
    async with azure_backend(settings, outputs=outputs) as backend:
        yield backend


def _storage(azurite: AzuriteInfo | None, *, aad: bool = False) -> OutputsFor:
    """How output containers are opened: an Azurite's (``--sim``: every job's account is
    replaced by it, its container made), else the job's own account — with Azure AD on a cloud
    (``aad``), with keys behind a custom ARM endpoint (its token is not a storage token)."""
    from fleet.storage.factory import output_store_factory

    if azurite is not None:
        return lambda _credential: output_store_factory(
            ca_cert=azurite.ca_cert, account_url=azurite.account_url, create_container=True
        )
    ca_cert = os.environ.get(STORAGE_CA_ENV) or None
    return lambda credential: output_store_factory(credential if aad else None, ca_cert=ca_cert)


@asynccontextmanager
async def _emulated(
    connection: Connection, output: OutputSpec | None
) -> AsyncIterator[tuple[ConnectionSettings, OutputsFor]]:
    """The emulator ``--sim`` starts in-process (with an Azurite when the job has output
    storage), and the settings to reach it."""
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
    async with (
        _local_azurite(output is not None) as azurite,
        Emulator(profile, time_scale=scale, azurite=azurite) as emu,
    ):
        settings = ConnectionSettings(
            arm_endpoint=emu.info.endpoint,
            ca_cert=emu.info.ca_cert,
            token=Secret(emu.token),
            subscriptions=connection.subscriptions or tuple(emu.info.subscriptions),
            time_scale=scale,
        )
        yield settings, _storage(azurite)


@asynccontextmanager
async def _local_azurite(wanted: bool) -> AsyncIterator[AzuriteInfo | None]:
    """An Azurite on 127.0.0.1 for ``--sim`` (HTTPS, in memory), stopped on the way out."""
    if not wanted:
        yield None
        return
    import tempfile

    from fleet.sim.azurite import Azurite
    from fleet.util.procs import ServiceError

    with tempfile.TemporaryDirectory(prefix="fleet-azurite-") as workdir:
        service = Azurite(Path(workdir))
        try:
            info = await anyio.to_thread.run_sync(service.start)
        except ServiceError as exc:
            message = f"output storage for --sim needs Azurite: {exc}"
            raise SpecError(message) from exc
        err_console.print(
            f"output blobs: a local Azurite ({info.account_url}) stands in for the job's "
            "storage account", highlight=False,
        )  # fmt: skip
        try:
            yield info
        finally:
            await anyio.to_thread.run_sync(service.stop)


def outputs_root(journal: Journal | None, report: Path | None) -> Path | None:
    """Where a run keeps full outputs: beside its journal (``STATE_DIR/outputs``), else beside
    its report (``REPORT.outputs``), else nowhere (only the report's tails)."""
    if journal is not None:
        return journal.state_dir / "outputs"
    if report is not None:
        return report.parent / f"{report.name}.outputs"
    return None


def finish_run(
    result: RunReport, report: Path | None, strict: bool, secrets: Secrets = NO_SECRETS
) -> None:
    """Write the JSON report, render the summary and exit with the run's exit code. Whatever
    a script echoed of the run's ``secrets`` is redacted in both."""
    from fleet.cli.rollout_view import render_ending
    from fleet.report.groups import group_results
    from fleet.report.json_report import exit_code_for, write_report
    from fleet.report.render import render_summary

    result = secrets.redact_report(result)
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

"""``fleet sim``: run the Azure Resource Manager emulator, or inspect a simulated fleet."""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fleet.cli.exits import fail
from fleet.cli.output import (
    Column,
    FormatOpt,
    OutputOpt,
    output_format,
    print_json_or_tsv,
    print_table,
    stdout_console,
)
from fleet.errors import SpecError

if TYPE_CHECKING:
    from fleet.sim.azurite import AzuriteInfo
    from fleet.sim.model import Inventory, SimVm
    from fleet.sim.profile import Profile

DEFAULT_PROFILE = "demo"

app = typer.Typer(
    help=(
        "The built-in Azure emulator: a strict Azure Resource Manager the real Azure SDK talks to "
        "over HTTPS on 127.0.0.1, with run commands that take time, Azure's published throttling "
        "and injectable faults. A profile describes the simulated fleet: a built-in one by name "
        "(`fleet sim profiles` lists them) or your own YAML file."
    ),
    no_args_is_help=True,
)

ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile",
        "-p",
        help="Fleet profile describing subscriptions, VMs, scale sets, faults, throttling: a "
        "built-in name (see `fleet sim profiles`) or the path of a YAML file.",
    ),
]
PROFILE_COLUMNS = (Column("name"), Column("targets", 0, "right"), Column("description", wrap=True))
SeedOpt = Annotated[
    int | None,
    typer.Option(help="Override the profile's random seed (fleet layout, faults, outcomes)."),
]


def _load(profile: str, err: Console) -> Profile:
    from fleet.sim import catalog
    from fleet.sim.profile import ProfileError

    try:
        return catalog.load(profile)
    except ProfileError as exc:
        # One unwrapped "file:line: field: message" line per problem (editors and grep parse
        # them); rich would otherwise fold long paths at the terminal width.
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc


@app.command()
def serve(
    profile: ProfileOpt = DEFAULT_PROFILE,
    port: Annotated[
        int, typer.Option(help="TCP port on 127.0.0.1; 0 picks a free one.", min=0, max=65535)
    ] = 0,
    time_scale: Annotated[
        float,
        typer.Option(
            "--time-scale",
            "-k",
            min=0.001,
            help="Run K times faster than Azure: refill rates x K, durations and Retry-After / K.",
        ),
    ] = 1.0,
    seed: SeedOpt = None,
    throttle_headers: Annotated[
        str | None,
        typer.Option(
            "--throttle-headers",
            help="Compute throttle header dialect, overriding the profile's throttling.headers: "
            "current, windowed (older per-window counters such as PutVM3Min;239) or none. "
            "The limits enforced stay the same; only what the headers say changes.",
        ),
    ] = None,
    azurite: Annotated[
        bool,
        typer.Option(
            "--azurite",
            help="Also start an Azurite blob service on 127.0.0.1 (HTTPS, in memory) that the "
            "simulated VMs write run-command output blobs to; the ready line gains a storage "
            "object (account_url, ca_cert, account_name, account_key). Stopped with the emulator.",
        ),
    ] = False,
) -> None:
    """Serve the emulator until SIGINT/SIGTERM.

    Once ready it prints one JSON line to stdout:
    {"endpoint": "https://127.0.0.1:PORT", "ca_cert": "/abs/ca.pem", "subscriptions": [...],
    "time_scale": K} (with --azurite also "storage": {...}). Point a client at the endpoint,
    trust ca_cert, and send a bearer token
    from the profile's principals (default token: fleet-sim-token). Ground truth for tests:
    GET {endpoint}/_sim/stats, /_sim/executions, /_sim/restarts, /_sim/inventory,
    /_sim/runcommands, /_sim/background; PUT /_sim/faults, /_sim/settings; POST/DELETE
    /_sim/background.
    """
    from fleet.sim.emulator import Emulator
    from fleet.sim.emulator import serve as run_serve

    err = Console(stderr=True)
    if not math.isfinite(time_scale):
        err.print(f"[bold red]error:[/] --time-scale must be a finite number, got {time_scale}")
        raise typer.Exit(2)
    if throttle_headers not in (None, "current", "windowed", "none"):
        err.print(
            f"[bold red]error:[/] --throttle-headers must be current, windowed or none, "
            f"got {throttle_headers!r}",
            highlight=False,
        )
        raise typer.Exit(2)
    loaded = _load(profile, err)
    try:
        with _storage(azurite, err) as storage:
            emulator = Emulator(
                loaded, time_scale=time_scale, seed=seed, port=port,
                throttle_headers=throttle_headers, azurite=storage,
            )  # fmt: skip
            code = run_serve(emulator)
    except OSError as exc:
        err.print(
            f"[bold red]error:[/] cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}. "
            "Pick another --port, or 0 for a free one.",
            highlight=False,
        )
        raise typer.Exit(2) from exc
    raise typer.Exit(code)


@contextlib.contextmanager
def _storage(wanted: bool, err: Console) -> Iterator[AzuriteInfo | None]:
    """An Azurite for ``--azurite`` (stopped on the way out), else None."""
    if not wanted:
        yield None
        return
    from fleet.sim.azurite import Azurite
    from fleet.util.procs import ServiceError

    with tempfile.TemporaryDirectory(prefix="fleet-azurite-") as workdir:
        try:
            service = Azurite(Path(workdir))
            info = service.start()
        except ServiceError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from exc
        try:
            yield info
        finally:
            service.stop()


@app.command()
def profiles(output: OutputOpt = None) -> None:
    """List the built-in profiles (use one with --profile NAME).

    -o tsv: a line per profile, no header: name, targets, description."""
    from fleet.sim import catalog

    fmt = _output(output, None)
    rows = []
    for name in catalog.PROFILES.names():
        loaded = catalog.load(name)
        rows.append((name, loaded.target_count(), loaded.description))
    document = [{"name": n, "targets": c, "description": d} for n, c, d in rows]
    if not print_json_or_tsv(fmt, document, rows):
        cells = [(n, f"{c:,}", d) for n, c, d in rows]
        print_table(PROFILE_COLUMNS, cells, title="Built-in fleet profiles")


def _output(output: str | None, legacy: str | None) -> str:
    """The ``-o`` format (exit 2 with one line if it is not table, json or tsv)."""
    try:
        return output_format(output, legacy)
    except SpecError as exc:
        raise fail(exc) from exc


def _inventory_row(t: SimVm) -> dict[str, object]:
    return {
        "id": t.id,
        "name": t.name,
        "kind": _kind(t),
        "location": t.location,
        "zone": t.zone,
        "os": t.os,
        "power_state": t.power_state.value,
        "agent": t.agent.value,
        "script_fault": t.script_fault,
        "tags": t.tags,
    }


@app.command()
def inventory(
    profile: ProfileOpt = DEFAULT_PROFILE,
    seed: SeedOpt = None,
    output: OutputOpt = None,
    output_format_: FormatOpt = None,
) -> None:
    """Show the fleet a profile simulates (no server is started).

    -o table: a summary per subscription, resource group, region and kind; -o json: every
    target; -o tsv: a line per target, no header: name, kind, location, zone, os, power state,
    agent, script fault, id."""
    from fleet.sim.inventory import build_inventory

    fmt = _output(output, output_format_)
    loaded = _load(profile, Console(stderr=True))
    inv = build_inventory(loaded, seed=seed)
    targets = sorted(inv.all_targets(), key=lambda v: v.key)
    tsv = (
        [t.name, _kind(t), t.location, t.zone, t.os, t.power_state.value, t.agent.value,
         t.script_fault, t.id]
        for t in targets
    )  # fmt: skip
    if not print_json_or_tsv(fmt, [_inventory_row(t) for t in targets], tsv):
        _render_summary(loaded.name, targets, inv)


def _kind(t: SimVm) -> str:
    if t.scale_set is None:
        return "vm"
    return "vmss-uniform" if t.is_uniform_instance else "vmss-flexible"


def _render_summary(name: str, targets: list[SimVm], inv: Inventory) -> None:
    console = stdout_console()
    table = Table(title=f"Simulated fleet '{name}': {len(targets)} targets")
    for col in (
        "subscription",
        "resource group",
        "region",
        "kind",
        "targets",
        "not running",
        "agent not ready",
        "wedged",
    ):
        table.add_column(col, justify="right" if col[0] in "tnaw" else "left")
    groups: Counter[tuple[str, str, str, str]] = Counter()
    stopped: Counter[tuple[str, str, str, str]] = Counter()
    agent: Counter[tuple[str, str, str, str]] = Counter()
    wedged: Counter[tuple[str, str, str, str]] = Counter()
    for t in targets:
        sub = inv.subscriptions[t.subscription_id.lower()].display_name
        key = (sub, t.resource_group, t.location, _kind(t))
        groups[key] += 1
        stopped[key] += t.power_state.value != "running"
        agent[key] += t.agent.value != "ready"
        wedged[key] += t.script_fault == "wedged"
    for key in sorted(groups):
        table.add_row(*key, str(groups[key]), str(stopped[key]), str(agent[key]), str(wedged[key]))
    console.print(table)

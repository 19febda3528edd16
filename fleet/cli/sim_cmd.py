"""``fleet sim``: run the Azure Resource Manager emulator, or inspect a simulated fleet."""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
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
) -> None:
    """Serve the emulator until SIGINT/SIGTERM.

    Once ready it prints one JSON line to stdout:
    {"endpoint": "https://127.0.0.1:PORT", "ca_cert": "/abs/ca.pem", "subscriptions": [...],
    "time_scale": K}. Point a client at the endpoint, trust ca_cert, and send a bearer token
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
    emulator = Emulator(
        loaded, time_scale=time_scale, seed=seed, port=port, throttle_headers=throttle_headers
    )
    try:
        code = run_serve(emulator)
    except OSError as exc:
        err.print(
            f"[bold red]error:[/] cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}. "
            "Pick another --port, or 0 for a free one.",
            highlight=False,
        )
        raise typer.Exit(2) from exc
    raise typer.Exit(code)


@app.command()
def profiles() -> None:
    """List the built-in profiles (use one with --profile NAME)."""
    from fleet.sim import catalog

    table = Table(title="Built-in fleet profiles")
    for col in ("name", "targets", "description"):
        table.add_column(col, justify="right" if col == "targets" else "left")
    for name in catalog.PROFILES.names():
        loaded = catalog.load(name)
        table.add_row(name, f"{loaded.target_count():,}", loaded.description)
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@app.command()
def inventory(
    profile: ProfileOpt = DEFAULT_PROFILE,
    seed: SeedOpt = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table (summary) or json (every target).")
    ] = "table",
) -> None:
    """Show the fleet a profile simulates (no server is started)."""
    from fleet.sim.inventory import build_inventory

    err = Console(stderr=True)
    if output_format not in ("table", "json"):
        err.print(f"[bold red]error:[/] --format must be 'table' or 'json', got {output_format!r}")
        raise typer.Exit(2)
    loaded = _load(profile, err)
    inv = build_inventory(loaded, seed=seed)
    targets = sorted(inv.all_targets(), key=lambda v: v.key)
    if output_format == "json":
        rows = [
            {
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
            for t in targets
        ]
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    _render_summary(loaded.name, targets, inv)


def _kind(t: SimVm) -> str:
    if t.scale_set is None:
        return "vm"
    return "vmss-uniform" if t.is_uniform_instance else "vmss-flexible"


def _render_summary(name: str, targets: list[SimVm], inv: Inventory) -> None:
    console = Console()
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

"""``fleet commands``: the built-in run commands Azure offers in a location (what a job's
``command_id`` may name), as a table, JSON or tab-separated values."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fleet.api.commands import builtin_commands
from fleet.cli.options import connection_options, with_options
from fleet.cli.wiring import configure_logs, fail, open_backend, run_sync
from fleet.errors import FleetError, SpecError
from fleet.model import BuiltinCommand
from fleet.spec import Connection

LocationOpt = Annotated[
    str, typer.Option("--location", "-l", help="Azure location, e.g. eastus.", show_default=False)
]
OsOpt = Annotated[str | None, typer.Option("--os", help="Only linux or windows commands.")]
OutputOpt = Annotated[
    str, typer.Option("--output", "-o", help="table, json or tsv (id, os, label, description).")
]
OUTPUTS = ("table", "json", "tsv")


@with_options(connection_options)
def commands(
    location: LocationOpt, os: OsOpt = None, output: OutputOpt = "table", **kw: Any
) -> None:
    """List the built-in run commands of a location (RunShellScript, ifconfig, IPConfig, ...).

    These are what a job's `command_id` (or --command-id) may name; fleet checks it against
    the catalog of the targets' locations before it sends anything. Works against Azure, a
    custom endpoint (--arm-endpoint) or the simulated fleet (--sim)."""
    try:
        if output not in OUTPUTS:
            raise SpecError(f"--output must be table, json or tsv, got {output!r}.")
        configure_logs(kw)
        subscription = next(iter(kw.get("subscription") or ()), None)
        found = run_sync(_list, Connection.from_flags(kw), location, os, subscription)
    except FleetError as exc:
        raise fail(exc) from exc
    if output == "json":
        json.dump([_json(c) for c in found], sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif output == "tsv":
        for c in found:
            sys.stdout.write("\t".join(_flat(v) for v in (c.id, c.os, c.label, c.description)))
            sys.stdout.write("\n")
    else:
        Console().print(_table(found, location))


async def _list(
    connection: Connection, location: str, os_name: str | None, subscription: str | None
) -> list[BuiltinCommand]:
    async with open_backend(connection) as backend:
        return await builtin_commands(backend, location, os_name=os_name, subscription=subscription)


def _json(c: BuiltinCommand) -> dict[str, Any]:
    return {"id": c.id, "os": c.os, "label": c.label, "description": c.description}


def _flat(value: str) -> str:
    return " ".join(value.split())  # one record per line: no tabs or newlines inside a field


def _table(found: list[BuiltinCommand], location: str) -> Table:
    table = Table(title=f"{len(found)} built-in run commands in {location}")
    table.add_column("id", no_wrap=True)
    table.add_column("os", no_wrap=True)
    table.add_column("label")
    table.add_column("description")
    for c in found:
        table.add_row(c.id, c.os, c.label, c.description)
    return table

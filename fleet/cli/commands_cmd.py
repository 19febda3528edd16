"""``fleet commands``: the built-in run commands Azure offers in a location (what a job's
``command_id`` may name), printed with the CLI's ``-o table|json|tsv`` (``fleet.cli.output``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fleet.api.commands import builtin_commands
from fleet.cli.config import apply_defaults
from fleet.cli.exits import fail
from fleet.cli.options import connection_options, with_options
from fleet.cli.output import Column, OutputOpt, output_format, print_json_or_tsv, print_table
from fleet.cli.wiring import configure_logs, open_backend, run_sync
from fleet.errors import FleetError
from fleet.model import BuiltinCommand
from fleet.spec import Connection

LocationOpt = Annotated[
    str, typer.Option("--location", "-l", help="Azure location, e.g. eastus.", show_default=False)
]
OsOpt = Annotated[str | None, typer.Option("--os", help="Only linux or windows commands.")]
COLUMNS = (
    Column("id"), Column("os"), Column("label", keep=2, wrap=True),
    Column("description", keep=1, wrap=True),
)  # fmt: skip


@with_options(connection_options)
def commands(location: LocationOpt, os: OsOpt = None, output: OutputOpt = None, **kw: Any) -> None:
    """List the built-in run commands of a location (RunShellScript, ifconfig, IPConfig, ...).

    These are what a job's `command_id` (or --command-id) may name; fleet checks it against
    the catalog of the targets' locations before it sends anything. Works against Azure, a
    custom endpoint (--arm-endpoint) or the simulated fleet (--sim). -o tsv: id, os, label,
    description."""
    try:
        fmt = output_format(output, default=apply_defaults(kw).output)
        configure_logs(kw)
        subscription = next(iter(kw.get("subscription") or ()), None)
        found = run_sync(_list, Connection.from_flags(kw), location, os, subscription)
    except FleetError as exc:
        raise fail(exc) from exc
    rows = [(c.id, c.os, c.label, c.description) for c in found]
    if not print_json_or_tsv(fmt, [_json(c) for c in found], rows):
        print_table(COLUMNS, rows, title=f"{len(found)} built-in run commands in {location}")


async def _list(
    connection: Connection, location: str, os_name: str | None, subscription: str | None
) -> list[BuiltinCommand]:
    async with open_backend(connection) as backend:
        return await builtin_commands(backend, location, os_name=os_name, subscription=subscription)


def _json(c: BuiltinCommand) -> dict[str, Any]:
    return {"id": c.id, "os": c.os, "label": c.label, "description": c.description}

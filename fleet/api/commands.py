"""The built-in run commands of a location (``fleet commands``): Azure's catalog, read once
(``GET .../locations/{loc}/runCommands``), optionally for one OS, in a stable order."""

from __future__ import annotations

from fleet.errors import SelectionError, SpecError
from fleet.model import BuiltinCommand, CallError
from fleet.ports import Backend

OS_NAMES = ("linux", "windows")


async def builtin_commands(
    backend: Backend,
    location: str,
    *,
    os_name: str | None = None,
    subscription: str | None = None,
) -> list[BuiltinCommand]:
    """The catalog of ``location`` (in ``subscription``, else the connection's first), sorted
    by OS then id; ``os_name``: only that OS's commands."""
    if os_name is not None and os_name not in OS_NAMES:
        raise SpecError(f"--os must be linux or windows, got {os_name!r}.")
    sub = subscription or next(iter(backend.subscriptions), None)
    if sub is None:
        raise SpecError("The catalog is read per subscription: give --subscription ID.")
    if backend.catalog is None:
        raise SpecError("This connection has no run-command catalog.")
    listed = await backend.catalog.commands(sub, location.replace(" ", "").lower())
    if isinstance(listed, CallError):
        message = f"--location {location}: reading the run-command catalog failed: "
        message += f"{listed.code}: {listed.message}"
        if listed.status in (400, 404):
            raise SpecError(message)
        raise SelectionError(message)
    chosen = [c for c in listed if os_name is None or c.os == os_name]
    return sorted(chosen, key=lambda c: (c.os, c.id.lower()))

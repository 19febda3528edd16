"""``fleet.ports.CommandCatalog`` with the real SDK: the built-in run commands of a location
(``GET /subscriptions/{s}/providers/Microsoft.Compute/locations/{loc}/runCommands[/{id}]``,
``virtual_machine_run_commands.list/get``; ARM reads, no Compute policy). A command's
document (with its script) is cached per subscription and location: it does not change during
a run, and the action adapter needs it for every target of a location.
"""

from __future__ import annotations

from typing import Any

import anyio
from azure.core.exceptions import AzureError

from fleet.azure.clients import ArmClients
from fleet.azure.run_commands import call_error, enum_text
from fleet.model import BuiltinCommand, CallError


def _command(model: Any) -> BuiltinCommand:
    params = getattr(model, "parameters", None) or []
    return BuiltinCommand(
        id=str(model.id),
        os=(enum_text(model.os_type) or "").lower(),
        label=str(model.label or ""),
        description=str(model.description or ""),
        script=tuple(getattr(model, "script", None) or ()),
        parameters=tuple(str(p.name) for p in params),
    )


class AzureCommandCatalog:
    def __init__(self, clients: ArmClients) -> None:
        self.clients = clients
        self._documents: dict[tuple[str, str, str], BuiltinCommand] = {}
        self._locks: dict[tuple[str, str, str], anyio.Lock] = {}

    async def commands(self, subscription: str, location: str) -> list[BuiltinCommand] | CallError:
        ops = self.clients.compute(subscription).virtual_machine_run_commands
        try:
            return [_command(item) async for item in ops.list(location)]
        except AzureError as exc:
            return call_error(exc)

    async def command(
        self, subscription: str, location: str, command_id: str
    ) -> BuiltinCommand | CallError:
        key = (subscription.lower(), location.lower(), command_id.lower())
        async with self._locks.setdefault(key, anyio.Lock()):  # one read per key, not per target
            known = self._documents.get(key)
            if known is not None:
                return known
            ops = self.clients.compute(subscription).virtual_machine_run_commands
            try:
                found = _command(await ops.get(location, command_id))
            except AzureError as exc:
                return call_error(exc)
            self._documents[key] = found
            return found

"""The built-in run-command catalog: ``GET /subscriptions/{s}/providers/Microsoft.Compute/
locations/{loc}/runCommands`` (paged ``RunCommandListResult``) and ``.../runCommands/{commandId}``
(``RunCommandDocument``). Data: ``fleet.sim.command_catalog``. The spec calls them
VirtualMachineRunCommands_List / _Get; stats name them ``RunCommandCatalog_List`` / ``_Get``
because the managed run-command routes already use those names for the per-VM list and get.

Errors: an unknown command id is 404 ``NotFound`` "The entity was not found in this Azure
location." (Azure/azure-powershell#7331); an unknown location is 400
``NoRegisteredProviderFound`` worded as ARM does for Compute's location-scoped types
(Azure/azure-sdk-for-python#21283).

Throttling: ARM reads only. No published Compute policy lists these operations (docs
"compute-throttling-limits" name the per-VM "Run Commands - List By Virtual Machine" under Low
Cost Get VM, not the per-location catalog), so no Compute bucket is charged.
RBAC: ``Microsoft.Compute/locations/runCommands/read`` (Reader has it; docs "run-command").
"""

from __future__ import annotations

from aiohttp import web

from fleet.sim import command_catalog as catalog
from fleet.sim.auth import Permission
from fleet.sim.errors import ArmError
from fleet.sim.http import SUB, Ctx, Route, json_response, page
from fleet.sim.model import SimScaleSet, SimVm
from fleet.sim.routes_compute import require_scope

READ_CATALOG = "Microsoft.Compute/locations/runCommands/read"
_LOCATION = SUB + r"/providers/Microsoft\.Compute/locations/(?P<loc>[^/]+)/runCommands"


def _check_location(ctx: Ctx) -> None:
    require_scope(ctx)
    location = ctx.params["loc"].replace(" ", "").lower()
    inventory = ctx.world.inventory
    used: list[SimVm | SimScaleSet] = [*inventory.vms.values(), *inventory.scale_sets.values()]
    known = catalog.REGIONS | {res.location.lower() for res in used}
    if location in known:
        return
    api = ctx.query("api-version") or ""
    message = (
        f"No registered resource provider found for location '{ctx.params['loc']}' and API "
        f"version '{api}' for type 'locations/runCommands'. The supported locations are "
        f"'{', '.join(sorted(known))}'."
    )
    raise ArmError(400, "NoRegisteredProviderFound", message)


async def list_commands(ctx: Ctx) -> web.Response:
    _check_location(ctx)
    items = [command.base() for command in catalog.COMMANDS]
    return json_response(page(ctx, items, page_size=ctx.world.page_size))


async def get_command(ctx: Ctx) -> web.Response:
    _check_location(ctx)
    command = catalog.find(ctx.params["cmd"])
    if command is None:
        raise ArmError(404, "NotFound", catalog.NOT_FOUND_MESSAGE)
    return json_response(command.document())


ROUTES = [
    Route(
        "GET",
        _LOCATION,
        "RunCommandCatalog_List",
        "compute",
        "reads",
        Permission.READ,
        READ_CATALOG,
        list_commands,
    ),
    Route(
        "GET",
        _LOCATION + "/(?P<cmd>[^/]+)",
        "RunCommandCatalog_Get",
        "compute",
        "reads",
        Permission.READ,
        READ_CATALOG,
        get_command,
    ),
]

"""ARM resource listing: ``GET /subscriptions/{s}/resources`` and
``.../resourceGroups/{rg}/resources`` with ``$filter`` (the OData subset ARM supports, see
:mod:`fleet.sim.arm_filter`), ``$top`` (the page size) and ``nextLink`` paging. A tag filter
omits ``tags`` from the results, as ARM does.
"""

from __future__ import annotations

from aiohttp import web

from fleet.sim.arm_filter import FilterError, parse_filter
from fleet.sim.auth import Permission
from fleet.sim.errors import ArmError
from fleet.sim.http import RG, SUB, Ctx, Route, json_response, page
from fleet.sim.model import SimResource, SimScaleSet, SimVm
from fleet.sim.routes_compute import require_scope
from fleet.sim.serialize import generic_resource


def resources_in_scope(ctx: Ctx) -> list[SimVm | SimScaleSet | SimResource]:
    inv = ctx.world.inventory
    sub, rg = ctx.params["sub"].lower(), (ctx.params.get("rg") or "").lower()
    everything: list[SimVm | SimScaleSet | SimResource] = [
        *inv.vms.values(),
        *inv.scale_sets.values(),
        *inv.others,
    ]
    return sorted(
        (
            r
            for r in everything
            if r.subscription_id.lower() == sub and (not rg or r.resource_group.lower() == rg)
        ),
        key=lambda r: r.id.lower(),
    )


async def list_resources(ctx: Ctx) -> web.Response:
    require_scope(ctx)
    try:
        flt = parse_filter(ctx.query("$filter"))
    except FilterError as exc:
        raise ArmError(400, exc.code, exc.message) from exc
    items = []
    for res in resources_in_scope(ctx):
        wire = generic_resource(res, with_tags=True)
        wire["resourceGroup"] = res.resource_group
        if flt.matches(wire):
            wire.pop("resourceGroup")
            if flt.tag_filter:
                wire.pop("tags", None)
            items.append(wire)
    return json_response(page(ctx, items, page_size=ctx.world.page_size))


ROUTES = [
    Route(
        "GET",
        SUB + "/resources",
        "Resources_List",
        "resources",
        "reads",
        Permission.READ,
        "Microsoft.Resources/subscriptions/resources/read",
        list_resources,
    ),
    Route(
        "GET",
        RG + "/resources",
        "Resources_ListByResourceGroup",
        "resources",
        "reads",
        Permission.READ,
        "Microsoft.Resources/subscriptions/resourceGroups/resources/read",
        list_resources,
    ),
]

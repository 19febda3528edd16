"""Compute read routes: VMs (list, list all with ``statusOnly``, get, instance view), scale sets
(list, get) and Uniform/Flexible scale-set instances (list, get, instance view).

Compute RP policies charged: High Cost Get VM for lists, Low Cost Get VM for single VMs, the
VMSS equivalents for scale sets and their instances.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from fleet.sim.auth import Permission
from fleet.sim.errors import ArmError, not_found
from fleet.sim.http import INSTANCE, RG, SUB, VM, VMSS, Ctx, Route, json_response, page
from fleet.sim.model import Orchestration, SimScaleSet, SimVm
from fleet.sim.serialize import vm_instance_view, vm_json, vmss_json, vmss_vm_json

READ_VM = "Microsoft.Compute/virtualMachines/read"
_GUID = re.compile(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}", re.IGNORECASE)
READ_VMSS = "Microsoft.Compute/virtualMachineScaleSets/read"
READ_VMSS_VM = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read"


def require_scope(ctx: Ctx) -> None:
    """400 for a malformed subscription id; 404 for an unknown subscription or resource group,
    as ARM answers before the resource provider sees the request."""
    world, sub, rg = ctx.world, ctx.params["sub"], ctx.params.get("rg")
    if not _GUID.fullmatch(sub):
        message = f"The provided subscription identifier '{sub}' is malformed or invalid."
        raise ArmError(400, "InvalidSubscriptionId", message)
    if world.inventory.subscription(sub) is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
    if rg is not None and world.inventory.resource_group(sub, rg) is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")


def find_vm(ctx: Ctx) -> SimVm:
    require_scope(ctx)
    p = ctx.params
    vm = ctx.world.inventory.vm(p["sub"], p["rg"], p["vm"])
    if vm is None:
        raise not_found("Microsoft.Compute/virtualMachines", p["vm"], p["rg"])
    return vm


def find_scale_set(ctx: Ctx) -> SimScaleSet:
    require_scope(ctx)
    p = ctx.params
    ss = ctx.world.inventory.scale_set(p["sub"], p["rg"], p["ss"])
    if ss is None:
        raise not_found("Microsoft.Compute/virtualMachineScaleSets", p["ss"], p["rg"])
    return ss


def find_instance(ctx: Ctx) -> SimVm:
    ss = find_scale_set(ctx)
    p = ctx.params
    inst = ctx.world.inventory.scale_set_instance(p["sub"], p["rg"], p["ss"], p["inst"])
    if inst is None:
        raise not_found(
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
            f"{ss.name}/{p['inst']}",
            p["rg"],
        )
    return inst


def _region_of(ctx: Ctx, items: list[SimVm] | list[SimScaleSet]) -> str:
    return items[0].location if items else "global"


def _vms_in_scope(ctx: Ctx) -> list[SimVm]:
    sub, rg = ctx.params["sub"].lower(), (ctx.params.get("rg") or "").lower()
    return [
        vm
        for vm in ctx.world.inventory.vms.values()
        if vm.subscription_id.lower() == sub and (not rg or vm.resource_group.lower() == rg)
    ]


async def list_vms(ctx: Ctx) -> web.Response:
    require_scope(ctx)
    vms = sorted(_vms_in_scope(ctx), key=lambda v: v.key)
    status_only = (ctx.query("statusOnly") or "").lower() == "true"
    expand_view = ctx.expand_instance_view()
    ctx.compute("HighCostGetVM", _region_of(ctx, vms), None)
    items = [vm_json(v, status_only=status_only, instance_view=expand_view) for v in vms]
    return json_response(page(ctx, items, page_size=ctx.world.page_size))


def _extensions(ctx: Ctx, vm: SimVm, view: dict[str, Any]) -> dict[str, Any]:
    """Add the action run-command extension's status, as the VM agent reports it in the
    instance view (``fleet.sim.action``), once the VM has run one."""
    extensions = ctx.world.actions.extension_views(vm, ctx.now)
    if extensions:
        view["extensions"] = extensions
    return view


async def get_vm(ctx: Ctx) -> web.Response:
    vm = find_vm(ctx)
    ctx.compute("LowCostGetVM", vm.location, vm.id)
    body = vm_json(vm, instance_view=ctx.expand_instance_view())
    if "instanceView" in body["properties"]:
        _extensions(ctx, vm, body["properties"]["instanceView"])
    return json_response(body)


async def vm_instance_view_route(ctx: Ctx) -> web.Response:
    vm = find_vm(ctx)
    ctx.compute("LowCostGetVM", vm.location, vm.id)
    return json_response(_extensions(ctx, vm, vm_instance_view(vm)))


async def list_scale_sets(ctx: Ctx) -> web.Response:
    require_scope(ctx)
    sub, rg = ctx.params["sub"].lower(), (ctx.params.get("rg") or "").lower()
    sets = sorted(
        (
            ss
            for ss in ctx.world.inventory.scale_sets.values()
            if ss.subscription_id.lower() == sub and (not rg or ss.resource_group.lower() == rg)
        ),
        key=lambda s: s.key,
    )
    ctx.compute("VMSSHighCostGet", _region_of(ctx, sets), None)
    return json_response(page(ctx, [vmss_json(s) for s in sets], page_size=ctx.world.page_size))


async def get_scale_set(ctx: Ctx) -> web.Response:
    ss = find_scale_set(ctx)
    ctx.compute("VMSSLowCostGet", ss.location, ss.id)
    return json_response(vmss_json(ss))


async def list_instances(ctx: Ctx) -> web.Response:
    ss = find_scale_set(ctx)
    ctx.compute("VMSSHighCostGet", ss.location, ss.id)
    view = ctx.expand_instance_view() and ss.mode is Orchestration.UNIFORM
    items = [vmss_vm_json(i, instance_view=view) for i in ss.instances]
    return json_response(page(ctx, items, page_size=ctx.world.page_size))


async def get_instance(ctx: Ctx) -> web.Response:
    inst = find_instance(ctx)
    ctx.compute("GetVMSSVMs", inst.location, inst.id)
    body = vmss_vm_json(inst, instance_view=ctx.expand_instance_view())
    if "instanceView" in body.get("properties", {}):
        _extensions(ctx, inst, body["properties"]["instanceView"])
    return json_response(body)


async def instance_view_route(ctx: Ctx) -> web.Response:
    inst = find_instance(ctx)
    ctx.compute("GetVMSSVMs", inst.location, inst.id)
    return json_response(_extensions(ctx, inst, vm_instance_view(inst)))


def _read(path: str, operation: str, action: str, handler) -> Route:  # type: ignore[no-untyped-def]
    return Route("GET", path, operation, "compute", "reads", Permission.READ, action, handler)


COMPUTE_PROVIDER = "/providers/Microsoft\\.Compute"
ROUTES = [
    _read(
        SUB + COMPUTE_PROVIDER + "/virtualMachines", "VirtualMachines_ListAll", READ_VM, list_vms
    ),
    _read(RG + COMPUTE_PROVIDER + "/virtualMachines", "VirtualMachines_List", READ_VM, list_vms),
    _read(VM, "VirtualMachines_Get", READ_VM, get_vm),
    _read(VM + "/instanceView", "VirtualMachines_InstanceView", READ_VM, vm_instance_view_route),
    _read(
        SUB + COMPUTE_PROVIDER + "/virtualMachineScaleSets",
        "VirtualMachineScaleSets_ListAll",
        READ_VMSS,
        list_scale_sets,
    ),
    _read(
        RG + COMPUTE_PROVIDER + "/virtualMachineScaleSets",
        "VirtualMachineScaleSets_List",
        READ_VMSS,
        list_scale_sets,
    ),
    _read(VMSS, "VirtualMachineScaleSets_Get", READ_VMSS, get_scale_set),
    _read(
        VMSS + "/virtualMachines", "VirtualMachineScaleSetVMs_List", READ_VMSS_VM, list_instances
    ),
    _read(INSTANCE, "VirtualMachineScaleSetVMs_Get", READ_VMSS_VM, get_instance),
    _read(
        INSTANCE + "/instanceView",
        "VirtualMachineScaleSetVMs_GetInstanceView",
        READ_VMSS_VM,
        instance_view_route,
    ),
]

"""Restart routes: ``POST {vm}/restart``, ``POST {vmss}/virtualMachines/{instanceId}/restart``
(Uniform instances) and ``POST {vmss}/restart`` with an optional ``{"instanceIds": [...]}`` body
(none: every instance). State and rules: ``fleet.sim.power``.

Long-running: 202 with ``Azure-AsyncOperation`` and ``Location`` (``&monitor=true``), the pair
Compute sends for power actions (captured for a start in Azure/azure-xplat-cli#3389); the SDK's
``begin_restart`` polls the status document. An instance id that is not in the scale set is 400
``InvalidParameter`` (Compute's wording "The provided instanceId ... is not an active Virtual
Machine Scale Set VM instanceId."); a Flexible member is restarted through the VM API, as for
its run commands.

Throttling (docs "compute-throttling-limits"): a VM restart spends Update VM (4/min per VM, cap
12; 500/min per subscription, cap 1,500); an instance restart Update VMSS VMs (same numbers); a
scale-set restart VMSS Update at subscription level only (footnote 2 of the scale-set table: 500
per minute, cap 1,500). ARM counts a POST as a write (``x-ms-ratelimit-remaining-subscription-
writes`` on the POST in azure-xplat-cli#3389), so each also takes a token from the write bucket.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from fleet.sim import lro
from fleet.sim.auth import Permission
from fleet.sim.errors import ArmError, bad_request
from fleet.sim.http import INSTANCE, VM, VMSS, Ctx, Route
from fleet.sim.model import SimScaleSet, SimVm
from fleet.sim.routes_compute import find_instance, find_scale_set, find_vm

RESTART_VM = "Microsoft.Compute/virtualMachines/restart/action"
RESTART_VMSS = "Microsoft.Compute/virtualMachineScaleSets/restart/action"
RESTART_INSTANCE = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/restart/action"


async def restart_vm(ctx: Ctx) -> web.Response:
    vm = find_vm(ctx)
    ctx.compute("UpdateVM", vm.location, vm.id)
    return lro.accepted(ctx, ctx.world.power.restart([vm], ctx.now, via="vm", scope=vm))


async def restart_instance(ctx: Ctx) -> web.Response:
    inst = find_instance(ctx)
    if not inst.is_uniform_instance:
        message = (
            "Instances of a scale set with orchestration mode 'Flexible' are virtual machines: "
            f"restart '{inst.id}' instead."
        )
        raise ArmError(400, "OperationNotAllowed", message)
    ctx.compute("UpdateVMSSVMs", inst.location, inst.id)
    op = ctx.world.power.restart([inst], ctx.now, via="vmss-vm", scope=inst)
    return lro.accepted(ctx, op)


async def restart_scale_set(ctx: Ctx) -> web.Response:
    ss = find_scale_set(ctx)
    instances = _selected(ss, _instance_ids(await ctx.request.read()))
    ctx.compute("VMSSUpdate", ss.location, None)
    op = ctx.world.power.restart(instances, ctx.now, via="vmss", scope=ss)
    return lro.accepted(ctx, op)


def _instance_ids(raw: bytes) -> list[str] | None:
    """The body's ``instanceIds`` (None: no body or no list, meaning every instance)."""
    if not raw.strip():
        return None
    try:
        body: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        message = f"The request content was invalid and could not be deserialized: {exc}."
        raise bad_request(message, code="InvalidRequestContent") from exc
    ids = body.get("instanceIds") if isinstance(body, dict) else None
    if not ids:  # omitted or empty: every instance (as the spec describes instanceIds)
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        message = "The property 'instanceIds' must be an array of strings."
        raise bad_request(message, target="instanceIds")
    return ids


def _selected(ss: SimScaleSet, ids: list[str] | None) -> list[SimVm]:
    if ids is None:
        return list(ss.instances)
    by_id = {(i.instance_id or "").lower(): i for i in ss.instances}
    chosen: list[SimVm] = []
    for wanted in ids:
        inst = by_id.get(wanted.lower())
        if inst is None:
            message = (
                f"The provided instanceId {wanted} is not an active Virtual Machine Scale Set "
                "VM instanceId."
            )
            raise bad_request(message, target="instanceIds")
        if inst not in chosen:
            chosen.append(inst)
    return chosen


def _post(path: str, operation: str, action: str, handler: Any) -> Route:
    return Route("POST", path, operation, "compute", "writes", Permission.ACTION, action, handler)


ROUTES = [
    _post(VM + "/restart", "VirtualMachines_Restart", RESTART_VM, restart_vm),
    _post(
        INSTANCE + "/restart",
        "VirtualMachineScaleSetVMs_Restart",
        RESTART_INSTANCE,
        restart_instance,
    ),
    _post(VMSS + "/restart", "VirtualMachineScaleSets_Restart", RESTART_VMSS, restart_scale_set),
]

"""Managed run-command routes on VMs and on Uniform scale-set instances (PUT, PATCH, GET, list,
DELETE) and the Compute async-operation status endpoint they point clients at.

HTTP only: lifecycle, idempotency and cancellation live in :mod:`fleet.sim.runcommands`.
Compute policies: Update VM (VM run-command writes and deletes), Low Cost Get VM (reads),
Update/Delete/Get VMSS VMs for instances, Get Operation for status polls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fleet.sim import lro
from fleet.sim.auth import Permission, authorize
from fleet.sim.errors import ArmError, bad_request, not_found
from fleet.sim.http import INSTANCE, SUB, VM, Ctx, Route, json_response
from fleet.sim.model import SimVm
from fleet.sim.routes_compute import find_instance, find_vm

RC_WRITE = "Microsoft.Compute/virtualMachines/runCommands/write"
RC_READ = "Microsoft.Compute/virtualMachines/runCommands/read"
RC_DELETE = "Microsoft.Compute/virtualMachines/runCommands/delete"
SS_RC_WRITE = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/write"
SS_RC_READ = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/read"
SS_RC_DELETE = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/delete"


@dataclass(frozen=True)
class OperationRef:
    """What an async operation id refers to, for its status URL and its throttle bucket."""

    vm: SimVm
    run_command: str
    kind: str  # "put" | "delete"


@dataclass(frozen=True)
class Policies:
    """The Compute throttling policies a target's run-command requests are charged to."""

    write: str
    delete: str
    read: str


_VM_POLICIES = Policies("UpdateVM", "UpdateVM", "LowCostGetVM")
_SS_POLICIES = Policies("UpdateVMSSVMs", "DeleteVMSSVMs", "GetVMSSVMs")


def run_command_target(ctx: Ctx) -> tuple[SimVm, Policies]:
    """The VM or Uniform instance a run-command route addresses (404 if unknown, 400 for a
    Flexible member addressed as an instance), with its throttling policies; shared with the
    action run command's routes."""
    if "inst" not in ctx.params:
        return find_vm(ctx), _VM_POLICIES
    inst = find_instance(ctx)
    if not inst.is_uniform_instance:
        message = (
            "Run commands on instances of a scale set with orchestration mode 'Flexible' are "
            "managed through the virtual machine APIs: use "
            f"'{inst.id}/runCommands' instead."
        )
        raise ArmError(400, "OperationNotAllowed", message)
    return inst, _SS_POLICIES


def _operation_headers(ctx: Ctx, vm: SimVm, op_id: str) -> dict[str, str]:
    return lro.operation_headers(ctx, vm.subscription_id, vm.location, op_id)


async def put_run_command(ctx: Ctx) -> web.Response:
    vm, policies = run_command_target(ctx)
    body = await ctx.json_body()
    ctx.compute(policies.write, vm.location, vm.id)
    store, name = ctx.world.runcommands, ctx.params["name"]
    if ctx.world.faults.conflict():
        message = (
            f"The operation cannot be performed because another operation is in progress on "
            f"'{vm.name}'. Retry the request after it completes."
        )
        raise ArmError(409, "Conflict", message)
    api, who = ctx.query("api-version") or "", ctx.principal.name
    if ctx.request.method == "PATCH":
        result = store.patch(vm, name, body, api_version=api, principal=who)
    else:
        result = store.put(vm, name, body, api_version=api, principal=who)
    ctx.world.operations[result.operation_id] = OperationRef(vm, name, "put")
    headers = _operation_headers(ctx, vm, result.operation_id)
    wire = store.to_wire(result.run_command, instance_view=False)
    return json_response(wire, status=201 if result.created else 200, headers=headers)


async def get_run_command(ctx: Ctx) -> web.Response:
    vm, policies = run_command_target(ctx)
    ctx.compute(policies.read, vm.location, vm.id)
    rc = ctx.world.runcommands.get(vm, ctx.params["name"])
    if rc is None:
        raise not_found(_rc_type(vm), f"{vm.name}/{ctx.params['name']}", vm.resource_group)
    return json_response(
        ctx.world.runcommands.to_wire(rc, instance_view=ctx.expand_instance_view())
    )


async def list_run_commands(ctx: Ctx) -> web.Response:
    vm, policies = run_command_target(ctx)
    ctx.compute(policies.read, vm.location, vm.id)
    store, view = ctx.world.runcommands, ctx.expand_instance_view()
    return json_response(
        {"value": [store.to_wire(rc, instance_view=view) for rc in store.list(vm)]}
    )


async def delete_run_command(ctx: Ctx) -> web.Response:
    vm, policies = run_command_target(ctx)
    ctx.compute(policies.delete, vm.location, vm.id)
    result = ctx.world.runcommands.delete(vm, ctx.params["name"], principal=ctx.principal.name)
    if result is None:
        return web.Response(status=204)
    ctx.world.operations[result.operation_id] = OperationRef(vm, ctx.params["name"], "delete")
    headers = _operation_headers(ctx, vm, result.operation_id)
    return web.Response(status=202, headers=headers)


def note_request(world: Any, route: Route, params: dict[str, str]) -> None:
    """Ground truth: count every PUT/PATCH that addresses a run command, whatever becomes of it
    (refused by a fault, a throttle, RBAC or validation, or applied)."""
    if route.handler is not put_run_command:
        return
    inventory = world.inventory
    if "inst" in params:
        vm = inventory.scale_set_instance(params["sub"], params["rg"], params["ss"], params["inst"])
    else:
        vm = inventory.vm(params["sub"], params["rg"], params["vm"])
    if vm is not None:
        existing = world.runcommands.get(vm, params["name"])
        world.runcommands.ledger.put_sent(vm.id, existing.name if existing else params["name"])


def _rc_type(vm: SimVm) -> str:
    if vm.is_uniform_instance:
        return "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands"
    return "Microsoft.Compute/virtualMachines/runCommands"


async def get_operation(ctx: Ctx) -> web.Response:
    op_id = ctx.params["op"]
    ref: OperationRef | None = ctx.world.operations.get(op_id)
    if ref is not None and not isinstance(ref, OperationRef):
        return await lro.serve(ctx, ref)  # a restart or an action run command (fleet.sim.lro)
    status: dict[str, Any] | None = ctx.world.runcommands.operation(op_id)
    if ref is None or status is None:
        raise ArmError(404, "NotFound", f"The operation '{op_id}' was not found.")
    if ref.vm.subscription_id.lower() != ctx.params["sub"].lower():
        raise bad_request(f"The operation '{op_id}' does not belong to this subscription.")
    if ref.vm.location.lower() != ctx.params["loc"].lower():
        raise ArmError(404, "NotFound", f"The operation '{op_id}' was not found.")
    authorize(ctx.principal, ref.vm.id, Permission.READ, ctx.route.action)
    ctx.compute("GetOperation", ref.vm.location, ref.vm.id)
    if (ctx.query("monitor") or "").lower() != "true":
        return json_response(status)
    if status.get("status") == "InProgress":
        return web.Response(status=202, headers=_operation_headers(ctx, ref.vm, op_id))
    rc = ctx.world.runcommands.get(ref.vm, ref.run_command)
    if ref.kind == "delete" or rc is None:
        return web.Response(status=204)
    return json_response(ctx.world.runcommands.to_wire(rc, instance_view=False))


def _routes(base: str, write: str, read: str, delete: str, prefix: str) -> list[Route]:
    one = base + "/runCommands/(?P<name>[^/]+)"
    return [
        Route(
            "PUT",
            one,
            f"{prefix}_CreateOrUpdate",
            "compute",
            "writes",
            Permission.WRITE,
            write,
            put_run_command,
        ),
        Route(
            "PATCH",
            one,
            f"{prefix}_Update",
            "compute",
            "writes",
            Permission.WRITE,
            write,
            put_run_command,
        ),
        Route(
            "GET", one, f"{prefix}_Get", "compute", "reads", Permission.READ, read, get_run_command
        ),
        Route(
            "DELETE",
            one,
            f"{prefix}_Delete",
            "compute",
            "deletes",
            Permission.DELETE,
            delete,
            delete_run_command,
        ),
        Route(
            "GET",
            base + "/runCommands",
            f"{prefix}_List",
            "compute",
            "reads",
            Permission.READ,
            read,
            list_run_commands,
        ),
    ]


OPERATION = SUB + r"/providers/Microsoft\.Compute/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)"
ROUTES = [
    *_routes(VM, RC_WRITE, RC_READ, RC_DELETE, "VirtualMachineRunCommands"),
    *_routes(
        INSTANCE, SS_RC_WRITE, SS_RC_READ, SS_RC_DELETE, "VirtualMachineScaleSetVMRunCommands"
    ),
    Route(
        "GET",
        OPERATION,
        "Operations_Get",
        "compute",
        "reads",
        Permission.READ,
        "Microsoft.Compute/locations/operations/read",
        get_operation,
    ),
]

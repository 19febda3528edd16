"""Action run command routes: ``POST {vm}/runCommand`` and, for Uniform instances,
``POST {vmss}/virtualmachines/{instanceId}/runCommand`` (spec operations VirtualMachines_RunCommand
and VirtualMachineScaleSetVMs_RunCommand). State: ``fleet.sim.action``.

Answers 202 with ``Azure-AsyncOperation`` and ``Location`` (``&monitor=true``): the spec marks
the POST long-running with ``final-state-via: location``, the captures (Azure/azure-cli#32286,
Azure/azure-xplat-cli#3389) show Compute's usual pair. The SDK's ``begin_run_command`` polls the
status document, then reads the ``RunCommandResult`` from the ``Location`` URL.

Throttling: a VM's action run command spends Compute's Update VM policy (the published table
lists "Run Command" there: 4/min per VM, cap 12; 500/min per subscription, cap 1,500). The
instance variant is not named in any table; it is charged to Update VMSS VMs, the policy of the
instance's other run-command writes and power actions (same numbers). ARM counts a POST as a
write (``x-ms-ratelimit-remaining-subscription-writes`` on the POST in azure-xplat-cli#3389).
"""

from __future__ import annotations

from aiohttp import web

from fleet.sim import lro
from fleet.sim.action import parse_input
from fleet.sim.auth import Permission
from fleet.sim.http import INSTANCE, VM, Ctx, Route
from fleet.sim.routes_runcommands import run_command_target  # VM or Uniform instance

VM_ACTION = "Microsoft.Compute/virtualMachines/runCommand/action"
INSTANCE_ACTION = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action"


async def run_command(ctx: Ctx) -> web.Response:
    vm, policies = run_command_target(ctx)
    request = parse_input(await ctx.json_body())
    ctx.compute(policies.write, vm.location, vm.id)
    op = ctx.world.actions.invoke(vm, request, ctx.now)
    return lro.accepted(ctx, op)


def _post(path: str, operation: str, action: str) -> Route:
    return Route(
        "POST", path, operation, "compute", "writes", Permission.ACTION, action, run_command
    )


ROUTES = [
    _post(VM + "/runCommand", "VirtualMachines_RunCommand", VM_ACTION),
    _post(INSTANCE + "/runCommand", "VirtualMachineScaleSetVMs_RunCommand", INSTANCE_ACTION),
]

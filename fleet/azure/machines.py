"""``fleet.ports.Machines`` with the real SDK: restarting a target's VM and reading its instance
view, for reboots after a script (``fleet.engine.reboot``).

- **Restart**: ``virtual_machines.begin_restart`` (VMs and Flexible members, which are VMs) or
  ``virtual_machine_scale_set_vms.begin_restart`` (Uniform instances): ``POST .../restart``,
  202 with ``Azure-AsyncOperation``. ``polling=False``: the SDK's poller waits 30 s between
  polls and its operation says nothing of the guest agent, so the engine reads the instance view
  instead; the operation URL is kept (``raw_response_hook``) for the journal. The POST leaves
  once, like a run-command PUT (``fleet.azure.send_once``: no azure-core retry, and the session
  does not re-send a write either): whether to send it again is the engine's decision, made
  after reading the instance view. fleet's ThrottlePolicy still re-sends it after a 429, a
  refusal Azure never acted on.
- **Instance view**: ``virtual_machines.instance_view`` / ``virtual_machine_scale_set_vms.
  get_instance_view``: the ``ProvisioningState/…`` status (with its ``time``), the
  ``PowerState/…`` status and the VM agent's display status ("Ready", "Not Ready").

Throttling (``fleet.azure.request_class``, docs "compute-throttling-limits", as the emulator
charges them in fleet/sim/routes_power.py and routes_compute.py): a VM restart spends Compute's
*Update VM* policy (4 a minute per VM, burst 12; 500 a minute per subscription and region, burst
1,500) and an ARM write token; an instance restart *Update VMSS VMs* (same numbers) and an ARM
write. Reading the instance view spends *Low Cost Get VM* (12 a minute per VM, burst 36; 8,000
per subscription) or *Get VMSS VMs* (12 / 36 per instance; 2,000 per subscription) and an ARM
read. A reboot thus costs one write and, on average, a handful of reads per VM.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import AzureError

from fleet.azure.clients import ArmClients
from fleet.azure.run_commands import call_error
from fleet.azure.send_once import SEND_ONCE
from fleet.model import CallError, MachineView, RestartAccepted, Target, TargetKind


def machine_view(iv: Any) -> MachineView:
    """The parts of an SDK instance view (VM or scale-set VM) a reboot looks at."""
    power = provisioning = provisioned_at = None
    for status in iv.statuses or ():
        code = str(status.code or "")
        kind, _, rest = code.partition("/")
        if kind == "PowerState":
            power = rest.lower()
        elif kind == "ProvisioningState":
            provisioning = rest.partition("/")[0].lower()
            provisioned_at = status.time
    agent = None
    statuses = getattr(iv.vm_agent, "statuses", None) if iv.vm_agent is not None else None
    if statuses:
        agent = statuses[0].display_status
    return MachineView(power, provisioning, provisioned_at, agent)


class AzureMachines:
    """Needs clients with fleet's ThrottlePolicy (it consumes ``fleet_region=``)."""

    def __init__(self, clients: ArmClients) -> None:
        self.clients = clients

    def _ops(self, target: Target) -> tuple[Any, tuple[str, ...], bool]:
        """(operations group, path arguments, is a Uniform instance) for ``target``."""
        compute = self.clients.compute(target.subscription)
        if target.kind is TargetKind.VMSS_UNIFORM:
            path = (target.resource_group, target.scale_set or "", target.instance_id or "")
            return compute.virtual_machine_scale_set_vms, path, True
        return compute.virtual_machines, (target.resource_group, target.name), False

    async def restart(self, target: Target) -> RestartAccepted | CallError:
        ops, path, _ = self._ops(target)
        seen: dict[str, str] = {}

        def keep_operation(response: Any) -> None:
            headers = response.http_response.headers
            seen["op"] = headers.get("Azure-AsyncOperation") or headers.get("Location") or ""

        try:
            await ops.begin_restart(
                *path, polling=False, raw_response_hook=keep_operation,
                fleet_region=target.location, **SEND_ONCE,
            )  # fmt: skip
        except AzureError as exc:
            return call_error(exc)
        return RestartAccepted(seen.get("op") or None)

    async def view(self, target: Target) -> MachineView | CallError:
        ops, path, instance = self._ops(target)
        read = ops.get_instance_view if instance else ops.instance_view
        try:
            iv = await read(*path, fleet_region=target.location)
        except AzureError as exc:
            return call_error(exc)
        return machine_view(iv)

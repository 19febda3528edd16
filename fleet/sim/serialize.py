"""Wire JSON (ARM camelCase) for the emulator's VMs, scale sets, instances and generic resources.

Shapes follow the 2025-04-01 Compute examples in ``shared/azure-reference`` so the SDK models
deserialize them; Resource Graph rows follow the ``Resources`` table (lower-case ``type``, the
power state under ``properties.extended.instanceView``).
"""

from __future__ import annotations

from typing import Any

from fleet.sim.model import (
    VM_TYPE,
    VMSS_VM_TYPE,
    AgentState,
    Orchestration,
    PowerState,
    SimResource,
    SimScaleSet,
    SimVm,
)

_POWER_DISPLAY = {
    PowerState.RUNNING: "VM running",
    PowerState.STOPPED: "VM stopped",
    PowerState.DEALLOCATED: "VM deallocated",
    PowerState.STARTING: "VM starting",
    PowerState.STOPPING: "VM stopping",
    PowerState.DEALLOCATING: "VM deallocating",
}
_OS_NAME = {"linux": ("ubuntu", "22.04"), "windows": ("Windows Server 2022 Datacenter", "10.0.20348")}


def power_status(vm: SimVm) -> dict[str, Any]:
    return {
        "code": f"PowerState/{vm.power_state.value}",
        "level": "Info",
        "displayStatus": _POWER_DISPLAY[vm.power_state],
    }


def _statuses(vm: SimVm) -> list[dict[str, Any]]:
    provisioned = {
        "code": "ProvisioningState/succeeded",
        "level": "Info",
        "displayStatus": "Provisioning succeeded",
    }
    return [provisioned, power_status(vm)]


def _vm_agent(vm: SimVm) -> dict[str, Any] | None:
    if vm.power_state is not PowerState.RUNNING:
        return None  # a stopped VM reports no guest agent at all
    if vm.agent is AgentState.READY:
        status = {
            "code": "ProvisioningState/succeeded",
            "level": "Info",
            "displayStatus": "Ready",
            "message": "GuestAgent is running and processing the extensions.",
        }
        return {"vmAgentVersion": vm.agent_version, "statuses": [status]}
    status = {
        "code": "ProvisioningState/Unavailable",
        "level": "Warning",
        "displayStatus": "Not Ready",
        "message": "VM status blob is found but not yet populated.",
    }
    return {"vmAgentVersion": "Unknown", "statuses": [status]}


def vm_instance_view(vm: SimVm) -> dict[str, Any]:
    os_name, os_version = _OS_NAME.get(vm.os, ("unknown", ""))
    view: dict[str, Any] = {
        "computerName": vm.computer_name,
        "osName": os_name,
        "osVersion": os_version,
        "platformUpdateDomain": vm.update_domain,
        "platformFaultDomain": vm.fault_domain,
        "hyperVGeneration": "V2",
        "statuses": _statuses(vm),
    }
    agent = _vm_agent(vm)
    if agent is not None:
        view["vmAgent"] = agent
    return view


def _os_type(os: str) -> str:
    return "Windows" if os == "windows" else "Linux"


def _vm_properties(vm: SimVm) -> dict[str, Any]:
    props: dict[str, Any] = {
        "vmId": vm.vm_id,
        "hardwareProfile": {"vmSize": vm.vm_size},
        "storageProfile": {
            "osDisk": {
                "osType": _os_type(vm.os),
                "name": f"{vm.name}_OsDisk_1",
                "createOption": "FromImage",
                "caching": "ReadWrite",
            }
        },
        "osProfile": {"computerName": vm.computer_name, "adminUsername": "azureuser"},
        "provisioningState": "Succeeded",
    }
    if vm.scale_set is not None:
        props["virtualMachineScaleSet"] = {"id": vm.scale_set.id}
    return props


def vm_json(vm: SimVm, *, instance_view: bool = False, status_only: bool = False) -> dict[str, Any]:
    """A VM (or Flexible member) as ``VirtualMachines_Get`` returns it."""
    body: dict[str, Any] = {
        "id": vm.id,
        "name": vm.name,
        "type": VM_TYPE,
        "location": vm.location,
        "tags": dict(vm.tags),
    }
    if vm.zone:
        body["zones"] = [vm.zone]
    if status_only:
        body["properties"] = {"instanceView": {"statuses": _statuses(vm)}}
        return body
    body["properties"] = _vm_properties(vm)
    if instance_view:
        body["properties"]["instanceView"] = vm_instance_view(vm)
    return body


def vmss_json(ss: SimScaleSet) -> dict[str, Any]:
    props: dict[str, Any] = {
        "orchestrationMode": ss.mode.value,
        "uniqueId": ss.unique_id,
        "provisioningState": "Succeeded",
        "platformFaultDomainCount": ss.platform_fault_domain_count,
        "singlePlacementGroup": False,
    }
    if ss.mode is Orchestration.UNIFORM:
        props["upgradePolicy"] = {"mode": "Manual"}
        props["overprovision"] = False
        props["virtualMachineProfile"] = {
            "osProfile": {"computerNamePrefix": ss.name[:9], "adminUsername": "azureuser"},
            "storageProfile": {"osDisk": {"osType": _os_type(ss.os), "createOption": "FromImage"}},
        }
    body: dict[str, Any] = {
        "id": ss.id,
        "name": ss.name,
        "type": "Microsoft.Compute/virtualMachineScaleSets",
        "location": ss.location,
        "tags": dict(ss.tags),
        "sku": {"name": ss.vm_size, "tier": "Standard", "capacity": len(ss.instances)},
        "properties": props,
    }
    if ss.zones:
        body["zones"] = list(ss.zones)
    return body


def vmss_vm_json(vm: SimVm, *, instance_view: bool = False) -> dict[str, Any]:
    """An instance as ``VirtualMachineScaleSetVMs_Get``/``List`` return it."""
    ss = vm.scale_set
    assert ss is not None
    if ss.mode is Orchestration.FLEXIBLE:
        return {
            "name": vm.name,
            "id": f"{ss.id}/virtualMachines/{vm.name}",
            "type": VMSS_VM_TYPE,
            "location": vm.location,
            "instanceId": vm.instance_id,
            "virtualMachineResourceId": vm.id,
        }
    props = _vm_properties(vm)
    props.pop("virtualMachineScaleSet", None)
    props["latestModelApplied"] = True
    if instance_view:
        props["instanceView"] = vm_instance_view(vm)
    body: dict[str, Any] = {
        "id": vm.id,
        "name": vm.name,
        "type": VMSS_VM_TYPE,
        "location": vm.location,
        "tags": dict(vm.tags),
        "instanceId": vm.instance_id,
        "sku": {"name": vm.vm_size, "tier": "Standard"},
        "properties": props,
    }
    if vm.zone:
        body["zones"] = [vm.zone]
    return body


def generic_resource(
    res: SimVm | SimScaleSet | SimResource, *, with_tags: bool = True
) -> dict[str, Any]:
    """An entry of ``Resources_List`` (``GenericResourceExpanded``)."""
    if isinstance(res, SimVm):
        rtype = VM_TYPE
    elif isinstance(res, SimScaleSet):
        rtype = "Microsoft.Compute/virtualMachineScaleSets"
    else:
        rtype = res.type
    body: dict[str, Any] = {"id": res.id, "name": res.name, "type": rtype, "location": res.location}
    if with_tags:
        body["tags"] = dict(res.tags)
    zone = getattr(res, "zone", None)
    if zone:
        body["zones"] = [zone]
    return body


def graph_row(res: SimVm | SimScaleSet | SimResource, tenant_id: str) -> dict[str, Any]:
    """A row of Resource Graph's ``Resources`` table."""
    if isinstance(res, SimVm):
        props = _vm_properties(res)
        props["extended"] = {"instanceView": {"powerState": power_status(res)}}
        rtype, zones, sku = VM_TYPE, ([res.zone] if res.zone else None), None
    elif isinstance(res, SimScaleSet):
        props = vmss_json(res)["properties"]
        rtype, zones = "Microsoft.Compute/virtualMachineScaleSets", (list(res.zones) or None)
        sku = {"name": res.vm_size, "tier": "Standard", "capacity": len(res.instances)}
    else:
        props, rtype, zones, sku = {}, res.type, None, None
    return {
        "id": res.id,
        "name": res.name,
        "type": rtype.lower(),
        "tenantId": tenant_id,
        "kind": "",
        "location": res.location,
        "resourceGroup": res.resource_group.lower(),
        "subscriptionId": res.subscription_id,
        "managedBy": "",
        "sku": sku,
        "plan": None,
        "properties": props,
        "tags": dict(res.tags),
        "identity": None,
        "zones": zones,
        "extendedLocation": None,
    }

"""Wire JSON (ARM camelCase) for the emulator's VMs, scale sets, instances and generic resources.

Shapes follow the 2025-04-01 Compute examples in ``shared/azure-reference`` so the SDK models
deserialize them; Resource Graph rows follow the ``Resources`` table (lower-case ``type``, the
power state under ``properties.extended.instanceView``).
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime, timedelta
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
_OS_NAME = {
    "linux": ("ubuntu", "22.04"),
    "windows": ("Windows Server 2022 Datacenter", "10.0.20348"),
}
_IMAGE = {
    "linux": ("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2"),
    "windows": ("MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-azure-edition"),
}
_OS_DISK_GB = {"linux": 30, "windows": 127}
ETAG = '"1"'  # nothing in the emulator changes a VM's model, so its etag never moves
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@functools.lru_cache(maxsize=1 << 16)  # formatting dominated the cost of Resource Graph rows
def _image_reference(os: str) -> dict[str, str]:
    publisher, offer, sku = _IMAGE.get(os, _IMAGE["linux"])
    return {"publisher": publisher, "offer": offer, "sku": sku, "version": "latest"}


def time_created(unique_id: str) -> str:
    """A stable creation time in 2024 derived from the resource's GUID (ARM's 7-digit format)."""
    seconds = int(hashlib.sha256(unique_id.encode()).hexdigest()[:8], 16) % (365 * 86400)
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00")


def power_status(vm: SimVm) -> dict[str, Any]:
    return {
        "code": f"PowerState/{vm.power_state.value}",
        "level": "Info",
        "displayStatus": _POWER_DISPLAY[vm.power_state],
    }


def _statuses(vm: SimVm) -> list[dict[str, Any]]:
    # "ProvisioningState/updating" / "Updating" while a restart runs (docs "states-billing":
    # start and restart fall under Updating); a failed one leaves "Failed". Its ``time`` is when
    # the provisioning state last changed (the spec's InstanceViewStatus.time, "the time of the
    # status"; VirtualMachine_Get_InstanceView.json shows one on this status and none on the
    # power state): so a restart moves it, once when it starts and once when its operation ends.
    state = vm.provisioning_state
    display = "Provisioning succeeded" if state == "Succeeded" else state
    level = "Error" if state == "Failed" else "Info"
    provisioned = {"code": f"ProvisioningState/{state.lower()}", "level": level}
    provisioned["displayStatus"] = display
    provisioned["time"] = vm.provisioned_at or time_created(vm.vm_id)
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
        return {"vmAgentVersion": vm.agent_version, "statuses": [status], "extensionHandlers": []}
    status = {
        "code": "ProvisioningState/Unavailable",
        "level": "Warning",
        "displayStatus": "Not Ready",
        "message": "VM status blob is found but not yet populated.",
    }
    return {"vmAgentVersion": "Unknown", "statuses": [status]}


def _os_disk_name(vm: SimVm) -> str:
    return f"{vm.name}_OsDisk_1"


def vm_instance_view(vm: SimVm) -> dict[str, Any]:
    """``VirtualMachines_InstanceView`` (and, without ``isVMInStandbyPool``, the VMSS-VM one)."""
    os_name, os_version = _OS_NAME.get(vm.os, ("unknown", ""))
    disk_status = {
        "code": "ProvisioningState/succeeded",
        "level": "Info",
        "displayStatus": "Provisioning succeeded",
    }
    view: dict[str, Any] = {
        "computerName": vm.computer_name,
        "osName": os_name,
        "osVersion": os_version,
        "platformUpdateDomain": vm.update_domain,
        "platformFaultDomain": vm.fault_domain,
        "hyperVGeneration": "V2",
        "disks": [{"name": _os_disk_name(vm), "statuses": [disk_status]}],
        "statuses": _statuses(vm),
    }
    if not vm.is_uniform_instance:
        view["isVMInStandbyPool"] = False
    agent = _vm_agent(vm)
    if agent is not None:
        view["vmAgent"] = agent
    return view


def _os_type(os: str) -> str:
    return "Windows" if os == "windows" else "Linux"


def _storage_profile(vm: SimVm) -> dict[str, Any]:
    disk_name = _os_disk_name(vm)
    rg = f"/subscriptions/{vm.subscription_id}/resourceGroups/{vm.resource_group}"
    return {
        "imageReference": _image_reference(vm.os),
        "osDisk": {
            "osType": _os_type(vm.os),
            "name": disk_name,
            "createOption": "FromImage",
            "caching": "ReadWrite",
            "managedDisk": {
                "storageAccountType": "Premium_LRS",
                "id": f"{rg}/providers/Microsoft.Compute/disks/{disk_name}",
            },
            "diskSizeGB": _OS_DISK_GB.get(vm.os, 30),
        },
        "dataDisks": [],
    }


def _os_profile(os: str, **names: str) -> dict[str, Any]:
    profile: dict[str, Any] = {**names, "adminUsername": "azureuser", "secrets": []}
    if os == "windows":
        profile["windowsConfiguration"] = {"provisionVMAgent": True, "enableAutomaticUpdates": True}
    else:
        profile["linuxConfiguration"] = {
            "disablePasswordAuthentication": True,
            "provisionVMAgent": True,
        }
    profile["allowExtensionOperations"] = True
    return profile


def _nic_id(vm: SimVm) -> str:
    if vm.is_uniform_instance:
        assert vm.scale_set is not None
        return f"{vm.id}/networkInterfaces/{vm.scale_set.name}-nic"
    rg = f"/subscriptions/{vm.subscription_id}/resourceGroups/{vm.resource_group}"
    return f"{rg}/providers/Microsoft.Network/networkInterfaces/{vm.name}-nic"


def _vm_properties(vm: SimVm) -> dict[str, Any]:
    props: dict[str, Any] = {
        "vmId": vm.vm_id,
        "hardwareProfile": {"vmSize": vm.vm_size},
        "storageProfile": _storage_profile(vm),
        "osProfile": _os_profile(vm.os, computerName=vm.computer_name),
        "networkProfile": {"networkInterfaces": [{"id": _nic_id(vm)}]},
        # Boot diagnostics off: so no instanceView.bootDiagnostics blob URIs to invent.
        "diagnosticsProfile": {"bootDiagnostics": {"enabled": False}},
        "extensionsTimeBudget": "PT1H30M",
        "provisioningState": vm.provisioning_state,
        "timeCreated": time_created(vm.vm_id),
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
        "etag": ETAG,
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


def _computer_name_prefix(ss: SimScaleSet) -> str:
    # Uniform instance computer names are the prefix plus 6 base-36 characters (see inventory).
    first = next((i.computer_name for i in ss.instances), None)
    return first[:-6] if first and len(first) > 6 else ss.name[:9]


def _nic_configurations(ss: SimScaleSet) -> dict[str, Any]:
    rg = f"/subscriptions/{ss.subscription_id}/resourceGroups/{ss.resource_group}"
    subnet = (
        f"{rg}/providers/Microsoft.Network/virtualNetworks/{ss.resource_group}-vnet/subnets/default"
    )
    ip_config = {"name": f"{ss.name}-ipconfig", "properties": {"subnet": {"id": subnet}}}
    nic = {
        "name": f"{ss.name}-nic",
        "properties": {"primary": True, "ipConfigurations": [ip_config]},
    }
    return {"networkInterfaceConfigurations": [nic]}


def _uniform_properties(ss: SimScaleSet) -> dict[str, Any]:
    return {
        "upgradePolicy": {"mode": "Manual"},
        "overprovision": False,
        "doNotRunExtensionsOnOverprovisionedVMs": False,
        "virtualMachineProfile": {
            "osProfile": _os_profile(ss.os, computerNamePrefix=_computer_name_prefix(ss)),
            "storageProfile": {
                "imageReference": _image_reference(ss.os),
                "osDisk": {
                    "osType": _os_type(ss.os),
                    "createOption": "FromImage",
                    "caching": "ReadWrite",
                    "managedDisk": {"storageAccountType": "Premium_LRS"},
                    "diskSizeGB": _OS_DISK_GB.get(ss.os, 30),
                },
                "dataDisks": [],
            },
            "networkProfile": _nic_configurations(ss),
        },
    }


def vmss_json(ss: SimScaleSet) -> dict[str, Any]:
    props: dict[str, Any] = {
        "orchestrationMode": ss.mode.value,
        "uniqueId": ss.unique_id,
        "provisioningState": "Succeeded",
        "platformFaultDomainCount": ss.platform_fault_domain_count,
        "singlePlacementGroup": False,
        "timeCreated": time_created(ss.unique_id),
    }
    if ss.mode is Orchestration.UNIFORM:
        props.update(_uniform_properties(ss))
    body: dict[str, Any] = {
        "id": ss.id,
        "name": ss.name,
        "type": "Microsoft.Compute/virtualMachineScaleSets",
        "location": ss.location,
        "tags": dict(ss.tags),
        "etag": ETAG,
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
            "etag": ETAG,
            "virtualMachineResourceId": vm.id,
        }
    props = _vm_properties(vm)
    props.pop("virtualMachineScaleSet", None)
    props.pop("extensionsTimeBudget", None)  # a VM-level setting; instances take the set's
    props["latestModelApplied"] = True
    props["modelDefinitionApplied"] = "VirtualMachineScaleSet"
    props["networkProfileConfiguration"] = _nic_configurations(ss)
    if instance_view:
        props["instanceView"] = vm_instance_view(vm)
    body: dict[str, Any] = {
        "id": vm.id,
        "name": vm.name,
        "type": VMSS_VM_TYPE,
        "location": vm.location,
        "tags": dict(vm.tags),
        "etag": ETAG,
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
        os_name, os_version = _OS_NAME.get(res.os, ("unknown", ""))
        props["extended"] = {
            "instanceView": {
                "computerName": res.computer_name,
                "osName": os_name,
                "osVersion": os_version,
                "hyperVGeneration": "V2",
                "powerState": power_status(res),
            }
        }
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

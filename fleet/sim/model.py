"""The emulator's inventory: subscriptions, resource groups, VMs, scale sets and their instances.

Owns the mutable state of the simulated fleet (power state, agent health) and ARM resource ids.
Lookups are case-insensitive, as ARM is. Imports nothing from the engine (fleet outside sim).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

VM_TYPE = "Microsoft.Compute/virtualMachines"
VMSS_TYPE = "Microsoft.Compute/virtualMachineScaleSets"
VMSS_VM_TYPE = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"


class PowerState(StrEnum):
    """VM power states as ARM reports them in ``PowerState/<code>`` statuses."""

    RUNNING = "running"
    STOPPED = "stopped"
    DEALLOCATED = "deallocated"
    STARTING = "starting"
    STOPPING = "stopping"
    DEALLOCATING = "deallocating"


class AgentState(StrEnum):
    """Health of the VM guest agent, which delivers run commands.

    ``NOT_READY`` is a dead agent (run commands never start); ``STARTING`` is an agent that is
    not ready yet because the VM is restarting and will be ready by itself (``fleet.sim.power``):
    both show "Not Ready" in the instance view, but work sent meanwhile waits instead of dying.
    """

    READY = "ready"
    NOT_READY = "not_ready"
    STARTING = "starting"


class Orchestration(StrEnum):
    UNIFORM = "Uniform"
    FLEXIBLE = "Flexible"


def rg_id(subscription_id: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"


@dataclass
class SimVm:
    """A VM, a Flexible scale-set member (an ordinary VM) or a Uniform scale-set instance.

    ``script_fault`` lets a profile force a behaviour for run commands on this VM:
    ``None`` (use the outcome model), ``"wedged"`` (stays Running forever).
    """

    subscription_id: str
    resource_group: str
    name: str
    location: str
    os: str  # "linux" | "windows"
    vm_size: str
    vm_id: str  # the VM's unique GUID (properties.vmId)
    computer_name: str
    zone: str | None = None
    fault_domain: int = 0
    update_domain: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    power_state: PowerState = PowerState.RUNNING
    agent: AgentState = AgentState.READY
    provisioning_state: str = "Succeeded"  # "Updating" while a restart is in progress
    # When the provisioning state last changed (ISO 8601; the ``time`` of the instance view's
    # ProvisioningState status); None = not since the VM was created.
    provisioned_at: str | None = None
    agent_version: str = "2.10.0.8"
    script_fault: str | None = None
    scale_set: SimScaleSet | None = None
    instance_id: str | None = None  # Uniform: "0", "1", ...; Flexible: the VM name

    @property
    def is_uniform_instance(self) -> bool:
        return self.scale_set is not None and self.scale_set.mode is Orchestration.UNIFORM

    @property
    def id(self) -> str:
        """ARM id: a VM id, or ``{vmss id}/virtualMachines/{n}`` for a Uniform instance."""
        if self.is_uniform_instance:
            assert self.scale_set is not None
            return f"{self.scale_set.id}/virtualMachines/{self.instance_id}"
        return f"{rg_id(self.subscription_id, self.resource_group)}/providers/{VM_TYPE}/{self.name}"

    @property
    def key(self) -> str:
        return self.id.lower()


@dataclass
class SimScaleSet:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    mode: Orchestration
    os: str
    vm_size: str
    unique_id: str
    zones: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    platform_fault_domain_count: int = 1
    instances: list[SimVm] = field(default_factory=list)

    @property
    def id(self) -> str:
        return (
            f"{rg_id(self.subscription_id, self.resource_group)}/providers/{VMSS_TYPE}/{self.name}"
        )

    @property
    def key(self) -> str:
        return self.id.lower()


@dataclass
class SimResource:
    """Any other ARM resource listed by ``resources.list`` (e.g. virtual networks)."""

    subscription_id: str
    resource_group: str
    name: str
    type: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return (
            f"{rg_id(self.subscription_id, self.resource_group)}/providers/{self.type}/{self.name}"
        )


@dataclass
class SimResourceGroup:
    subscription_id: str
    name: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class SimSubscription:
    id: str
    display_name: str
    tenant_id: str
    resource_groups: dict[str, SimResourceGroup] = field(default_factory=dict)  # key: lower name


@dataclass
class Inventory:
    """Everything in the simulated cloud, indexed for case-insensitive lookup."""

    subscriptions: dict[str, SimSubscription] = field(default_factory=dict)  # key: lower id
    vms: dict[str, SimVm] = field(
        default_factory=dict
    )  # key: lower ARM id (VMs + Flexible members)
    scale_sets: dict[str, SimScaleSet] = field(default_factory=dict)  # key: lower ARM id
    others: list[SimResource] = field(default_factory=list)

    def add_vm(self, vm: SimVm) -> None:
        self.vms[vm.key] = vm

    def add_scale_set(self, ss: SimScaleSet) -> None:
        self.scale_sets[ss.key] = ss

    def subscription(self, subscription_id: str) -> SimSubscription | None:
        return self.subscriptions.get(subscription_id.lower())

    def resource_group(self, subscription_id: str, name: str) -> SimResourceGroup | None:
        sub = self.subscription(subscription_id)
        return None if sub is None else sub.resource_groups.get(name.lower())

    def vm(self, subscription_id: str, resource_group: str, name: str) -> SimVm | None:
        vm_id = f"{rg_id(subscription_id, resource_group)}/providers/{VM_TYPE}/{name}"
        return self.vms.get(vm_id.lower())

    def scale_set(self, subscription_id: str, resource_group: str, name: str) -> SimScaleSet | None:
        ss_id = f"{rg_id(subscription_id, resource_group)}/providers/{VMSS_TYPE}/{name}"
        return self.scale_sets.get(ss_id.lower())

    def scale_set_instance(
        self, subscription_id: str, resource_group: str, ss_name: str, instance_id: str
    ) -> SimVm | None:
        ss = self.scale_set(subscription_id, resource_group, ss_name)
        if ss is None:
            return None
        for inst in ss.instances:
            if (inst.instance_id or "").lower() == instance_id.lower():
                return inst
        return None

    def all_targets(self) -> list[SimVm]:
        """Every VM-like run-command target: VMs, Flexible members, Uniform instances."""
        out = list(self.vms.values())
        for ss in self.scale_sets.values():
            if ss.mode is Orchestration.UNIFORM:
                out.extend(ss.instances)
        return out

    def target(self, arm_id: str) -> SimVm | None:
        """Find a VM or Uniform instance by ARM id (case-insensitive)."""
        key = arm_id.lower().rstrip("/")
        found = self.vms.get(key)
        if found is not None:
            return found
        head, sep, inst = key.rpartition("/virtualmachines/")
        ss = self.scale_sets.get(head) if sep else None
        if ss is None:
            return None
        return next((i for i in ss.instances if (i.instance_id or "").lower() == inst), None)

"""Generate the emulator's ``Inventory`` from a fleet profile, deterministically for a seed.

Every VM group and scale set draws from its own RNG seeded by (seed, subscription, resource
group, group), so editing one group does not reshuffle the rest of the fleet. Shares
(power states, OS mix, tag distributions, fractions) are apportioned, not sampled: 2% of 500
VMs is exactly 10, and only the leftover fraction is drawn at random. Pure: no I/O.
"""

from __future__ import annotations

import fnmatch
import random
import re
import string
import uuid
from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

from fleet.sim.model import (
    VM_TYPE,
    AgentState,
    Inventory,
    Orchestration,
    PowerState,
    SimResource,
    SimResourceGroup,
    SimScaleSet,
    SimSubscription,
    SimVm,
    rg_id,
)
from fleet.sim.profile import Override, Profile, ResolvedSettings, ResourceGroup, ScaleSet, VmGroup

VNET_TYPE = "Microsoft.Network/virtualNetworks"
AGENT_VERSIONS = {"linux": "2.10.0.8", "windows": "2.7.41491.1102"}
UPDATE_DOMAINS = 5
PLAIN_VM_FAULT_DOMAINS = 3

Label = TypeVar("Label", bound=Hashable)  # what apportion deals out: an OS, a power state, ...


def seeded_rng(seed: int, *parts: object) -> random.Random:
    """An RNG for one named stream; string seeds hash with SHA-512, stable across processes."""
    return random.Random("|".join([str(seed), *(str(p) for p in parts)]))


def new_guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def tenant_id_for(profile: Profile, seed: int) -> str:
    """The profile's tenant, or the one generated from ``seed`` (what subscriptions report)."""
    return profile.tenant_id or new_guid(seeded_rng(seed, "tenant"))


def build_inventory(profile: Profile, seed: int | None = None) -> Inventory:
    """Build the fleet a profile describes; ``seed`` overrides ``profile.seed``."""
    seed = profile.seed if seed is None else seed
    inventory = Inventory()
    tenant = tenant_id_for(profile, seed)
    for sub in profile.subscriptions:
        sim_sub = SimSubscription(id=sub.id, display_name=sub.name, tenant_id=tenant)
        inventory.subscriptions[sub.id.lower()] = sim_sub
        for rg in sub.resource_groups:
            sim_sub.resource_groups[rg.name.lower()] = SimResourceGroup(
                subscription_id=sub.id, name=rg.name, location=rg.location, tags=dict(rg.tags)
            )
            _add_resource_group(inventory, profile, sub.id, rg, seed)
    apply_overrides(inventory, profile.overrides)
    return inventory


def _add_resource_group(
    inventory: Inventory, profile: Profile, sub_id: str, rg: ResourceGroup, seed: int
) -> None:
    vnet = SimResource(sub_id, rg.name, f"{rg.name}-vnet", VNET_TYPE, rg.location, dict(rg.tags))
    inventory.others.append(vnet)
    for index, group in enumerate(rg.vms):
        rng = seeded_rng(seed, sub_id, rg.name, "vms", index)
        settings = group.resolve(profile.defaults)
        for vm in _vm_group(rng, sub_id, rg, group, settings):
            inventory.add_vm(vm)
    for ss in rg.scale_sets:
        rng = seeded_rng(seed, sub_id, rg.name, "scale_set", ss.name)
        inventory.add_scale_set(_scale_set(rng, inventory, sub_id, rg, ss, profile))


def _vm_group(
    rng: random.Random, sub_id: str, rg: ResourceGroup, group: VmGroup, settings: ResolvedSettings
) -> list[SimVm]:
    n = group.count
    oses = apportion(rng, settings.os_mix, n)
    tags = _tags(rng, group.tags, n)
    vms = []
    for index, name in enumerate(group.names()):
        zone, slot = _placement(group.zones, index)
        vm = SimVm(
            subscription_id=sub_id,
            resource_group=rg.name,
            name=name,
            location=group.location or rg.location,
            os=oses[index],
            vm_size=settings.vm_size,
            vm_id=new_guid(rng),
            computer_name=name[:15] if oses[index] == "windows" else name,
            zone=zone,
            fault_domain=slot % PLAIN_VM_FAULT_DOMAINS,
            update_domain=slot % UPDATE_DOMAINS,
            tags=tags[index],
            agent_version=AGENT_VERSIONS[oses[index]],
        )
        vms.append(vm)
    _assign_states(rng, vms, settings)
    return vms


def _scale_set(
    rng: random.Random,
    inventory: Inventory,
    sub_id: str,
    rg: ResourceGroup,
    spec: ScaleSet,
    profile: Profile,
) -> SimScaleSet:
    settings = spec.resolve(profile.defaults)
    mode = Orchestration(spec.mode)
    default_fds = 5 if mode is Orchestration.UNIFORM else 1
    ss = SimScaleSet(
        subscription_id=sub_id,
        resource_group=rg.name,
        name=spec.name,
        location=spec.location or rg.location,
        mode=mode,
        os=apportion(rng, settings.os_mix, 1)[0],
        vm_size=settings.vm_size,
        unique_id=new_guid(rng),
        zones=list(spec.zones),
        tags=_tags(rng, spec.tags, 1)[0],
        platform_fault_domain_count=spec.platform_fault_domain_count or default_fds,
    )
    taken = set(inventory.vms)
    for index in range(spec.capacity):
        instance = _instance(rng, ss, index, taken)
        ss.instances.append(instance)
        if mode is Orchestration.FLEXIBLE:
            inventory.add_vm(instance)  # Flexible members are ordinary VMs
    _assign_states(rng, ss.instances, settings)
    return ss


def _instance(rng: random.Random, ss: SimScaleSet, index: int, taken: set[str]) -> SimVm:
    """A Uniform instance ``{ss}_{index}`` or a Flexible member ``{ss}_{8 hex}``."""
    # Azure's default computerNamePrefix is the scale-set name (at most 9 chars on Windows).
    prefix = re.sub(r"[^A-Za-z0-9-]", "", ss.name)[: 9 if ss.os == "windows" else 58]
    if ss.mode is Orchestration.UNIFORM:
        name, instance_id = f"{ss.name}_{index}", str(index)
        computer_name = prefix + _base36(index).rjust(6, "0")
    else:
        name = instance_id = _flexible_name(rng, ss, taken)
        computer_name = prefix + "".join(rng.choices(_LOWER_ALNUM, k=6))
    zone, slot = _placement(ss.zones, index)
    return SimVm(
        subscription_id=ss.subscription_id,
        resource_group=ss.resource_group,
        name=name,
        location=ss.location,
        os=ss.os,
        vm_size=ss.vm_size,
        vm_id=new_guid(rng),
        computer_name=computer_name,
        zone=zone,
        fault_domain=slot % ss.platform_fault_domain_count,
        update_domain=slot % UPDATE_DOMAINS,
        tags=dict(ss.tags),
        agent_version=AGENT_VERSIONS[ss.os],
        scale_set=ss,
        instance_id=instance_id,
    )


_LOWER_ALNUM = string.ascii_lowercase + string.digits


def _flexible_name(rng: random.Random, ss: SimScaleSet, taken: set[str]) -> str:
    # Azure names Flexible members "{scale set}_{8 random hex}"; redraw on the rare collision.
    while True:
        name = f"{ss.name}_{rng.getrandbits(32):08x}"
        key = f"{rg_id(ss.subscription_id, ss.resource_group)}/providers/{VM_TYPE}/{name}"
        if key.lower() not in taken:
            taken.add(key.lower())
            return name


def _base36(number: int) -> str:
    digits = string.digits + string.ascii_lowercase
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def _placement(zones: list[str], index: int) -> tuple[str | None, int]:
    """Zone round-robin; ``slot`` is the VM's position within its zone (for fault domains)."""
    if not zones:
        return None, index
    return zones[index % len(zones)], index // len(zones)


def _assign_states(rng: random.Random, vms: list[SimVm], settings: ResolvedSettings) -> None:
    for vm, power in zip(vms, apportion(rng, settings.power_states, len(vms)), strict=True):
        vm.power_state = PowerState(power)
    for vm, wedged in zip(vms, _flags(rng, settings.wedged, len(vms)), strict=True):
        vm.script_fault = "wedged" if wedged else None
    # Only a running VM has a guest agent to be unhealthy; the others report no agent at all.
    running = [vm for vm in vms if vm.power_state is PowerState.RUNNING]
    for vm, broken in zip(
        running, _flags(rng, settings.agent_not_ready, len(running)), strict=True
    ):
        vm.agent = AgentState.NOT_READY if broken else AgentState.READY


def _tags(
    rng: random.Random, spec: dict[str, str | dict[str, float]], n: int
) -> list[dict[str, str]]:
    out: list[dict[str, str]] = [{} for _ in range(n)]
    for key, value in spec.items():
        values = [value] * n if isinstance(value, str) else apportion(rng, value, n)
        for tags, chosen in zip(out, values, strict=True):
            tags[key] = chosen
    return out


def _flags(rng: random.Random, fraction: float, n: int) -> list[bool]:
    return [label == "y" for label in apportion(rng, {"y": fraction, "n": 1.0 - fraction}, n)]


def apportion(rng: random.Random, weights: Mapping[Label, float], n: int) -> list[Label]:
    """``n`` labels in random order, each label's count within one of ``n * its share``.

    Whole parts of the quotas are exact; the leftover seats go by systematic sampling, so each
    label gets its extra seat with probability equal to its fractional remainder.
    """
    total = sum(weights.values())
    quotas = {label: n * w / total for label, w in weights.items() if w > 0}
    out = [label for label, quota in quotas.items() for _ in range(int(quota))]
    missing = n - len(out)
    threshold, acc = rng.random(), 0.0
    for label, quota in quotas.items():
        acc += quota - int(quota)
        while missing and acc > threshold:
            out.append(label)
            missing -= 1
            threshold += 1.0
    if missing:  # float rounding left a seat over
        out.extend([max(quotas, key=lambda k: quotas[k] - int(quotas[k]))] * missing)
    rng.shuffle(out)
    return out


def apply_overrides(inventory: Inventory, overrides: list[Override]) -> None:
    """Force power state, agent health or script fault on targets matched by name globs."""
    compiled = [(_glob_regex(o.names), o) for o in overrides]
    if not compiled:
        return
    for vm in inventory.all_targets():
        for regex, override in compiled:
            if not regex.match(vm.name.lower()):
                continue
            if override.power_state is not None:
                vm.power_state = PowerState(override.power_state)
            if override.agent is not None:
                vm.agent = AgentState(override.agent)
            if override.script is not None:
                vm.script_fault = "wedged" if override.script == "wedged" else None


def _glob_regex(globs: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fnmatch.translate(g.lower())})" for g in globs))


def name_matches(name: str, globs: Iterable[str]) -> bool:
    """Whether a target name matches any of an override's globs (case-insensitive)."""
    return _glob_regex(globs).match(name.lower()) is not None

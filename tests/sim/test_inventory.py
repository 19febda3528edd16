"""Inventory generation from profiles: shapes, counts, determinism, overrides."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from pathlib import Path

import pytest

from fleet.sim.inventory import apportion, build_inventory, tenant_id_for
from fleet.sim.model import AgentState, Inventory, Orchestration, PowerState
from fleet.sim.profile import load_profile, parse_profile

CONFIGS = Path(__file__).resolve().parents[2] / "fleet" / "sim" / "profiles"
SUB = "11111111-1111-1111-1111-111111111111"


def _snapshot(inventory: Inventory) -> list[tuple[object, ...]]:
    return [
        (vm.id, vm.vm_id, vm.os, vm.zone, vm.power_state, vm.agent, sorted(vm.tags.items()))
        for vm in inventory.all_targets()
    ]


@pytest.fixture(scope="module")
def demo() -> Inventory:
    return build_inventory(load_profile(CONFIGS / "demo.yaml"))


def test_demo_has_every_kind_of_target(demo: Inventory) -> None:
    targets = demo.all_targets()
    assert len(targets) == 200
    assert len(demo.subscriptions) == 2
    modes = {ss.mode for ss in demo.scale_sets.values()}
    assert modes == {Orchestration.UNIFORM, Orchestration.FLEXIBLE}
    assert {vm.os for vm in targets} == {"linux", "windows"}
    assert {vm.location for vm in targets} == {"eastus", "westeurope"}
    states = Counter(vm.power_state for vm in targets)
    assert states[PowerState.DEALLOCATED] == 4 and states[PowerState.STOPPED] == 1
    assert sum(vm.agent is AgentState.NOT_READY for vm in targets) == 3
    assert [vm.name for vm in targets if vm.script_fault == "wedged"] == ["dev-042"]
    assert demo.resource_group(SUB, "RG-FINANCE") is not None
    assert all({"env", "role", "team", "patch-group"} <= vm.tags.keys() for vm in targets)


def test_one_virtual_network_per_resource_group(demo: Inventory) -> None:
    groups = [
        (rg.subscription_id, rg.name)
        for s in demo.subscriptions.values()
        for rg in s.resource_groups.values()
    ]
    vnets = [
        (r.subscription_id, r.resource_group)
        for r in demo.others
        if r.type == "Microsoft.Network/virtualNetworks"
    ]
    assert sorted(vnets) == sorted(groups)


def test_uniform_instances_are_not_vms(demo: Inventory) -> None:
    ss = demo.scale_set(SUB, "rg-web", "vmss-api")
    assert ss is not None and ss.mode is Orchestration.UNIFORM
    assert [i.instance_id for i in ss.instances] == [str(n) for n in range(20)]
    assert ss.instances[3].name == "vmss-api_3"
    assert all(i.scale_set is ss and i.key not in demo.vms for i in ss.instances)
    found = demo.target(f"{ss.id}/virtualMachines/3")
    assert found is ss.instances[3]
    assert found.id.endswith("/virtualMachineScaleSets/vmss-api/virtualMachines/3")


def test_flexible_members_are_vms(demo: Inventory) -> None:
    ss = demo.scale_set(SUB, "rg-data", "vmss-batch")
    assert ss is not None and len(ss.instances) == 15
    for member in ss.instances:
        prefix, _, suffix = member.name.rpartition("_")
        assert prefix == "vmss-batch" and len(suffix) == 8
        int(suffix, 16)
        assert member.instance_id == member.name
        assert demo.vm(SUB, "rg-data", member.name) is member
        assert member.scale_set is ss


def test_zones_round_robin_and_domains(demo: Inventory) -> None:
    web = [demo.vm(SUB, "rg-web", f"web-{i:03d}") for i in range(1, 7)]
    assert [vm.zone for vm in web if vm] == ["1", "2", "3", "1", "2", "3"]
    assert [vm.fault_domain for vm in web if vm] == [0, 0, 0, 1, 1, 1]
    dev = [vm for vm in demo.all_targets() if vm.name.startswith("dev-")]
    assert {vm.zone for vm in dev} == {None}
    assert {vm.update_domain for vm in dev} == set(range(5))


def test_guids_are_version_4_and_unique(demo: Inventory) -> None:
    ids = [vm.vm_id for vm in demo.all_targets()]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids)
    tenants = {s.tenant_id for s in demo.subscriptions.values()}
    assert tenants == {"72f988bf-0000-4000-8000-00000000c0de"}


def test_deterministic_for_a_seed_and_different_for_another() -> None:
    profile = load_profile(CONFIGS / "small.yaml")
    assert _snapshot(build_inventory(profile)) == _snapshot(build_inventory(profile))
    assert _snapshot(build_inventory(profile, seed=1)) != _snapshot(build_inventory(profile))
    assert _snapshot(build_inventory(profile, seed=profile.seed)) == _snapshot(
        build_inventory(profile)
    )


def test_generated_tenant_follows_the_seed() -> None:
    profile = load_profile(CONFIGS / "small.yaml")
    tenant = lambda inv: next(iter(inv.subscriptions.values())).tenant_id  # noqa: E731
    assert tenant(build_inventory(profile)) == tenant(build_inventory(profile))
    assert tenant(build_inventory(profile, seed=99)) != tenant(build_inventory(profile))


def test_large_profile_has_exactly_ten_thousand_targets() -> None:
    inventory = build_inventory(load_profile(CONFIGS / "large.yaml"))
    targets = inventory.all_targets()
    assert len(targets) == 10_000
    assert len(inventory.subscriptions) == 4
    assert {vm.location for vm in targets} == {"eastus", "westeurope", "southeastasia"}
    assert {ss.mode for ss in inventory.scale_sets.values()} == set(Orchestration)
    assert sum(vm.power_state is PowerState.DEALLOCATED for vm in targets) == 200


def test_shares_and_tag_distributions_are_apportioned() -> None:
    group = {
        "count": 50,
        "name": "vm-{i:02d}",
        "os_mix": {"linux": 0.8, "windows": 0.2},
        "power_states": {"running": 0.9, "stopped": 0.1},
        "wedged": 0.1,
        "tags": {"tier": {"gold": 0.2, "silver": 0.8}, "env": "prod"},
    }
    rg = {"name": "rg", "location": "eastus", "vms": [group]}
    data = {"name": "t", "subscriptions": [{"id": SUB, "name": "s", "resource_groups": [rg]}]}
    vms = build_inventory(parse_profile(data)).all_targets()
    assert Counter(vm.os for vm in vms) == {"linux": 40, "windows": 10}
    assert Counter(vm.power_state for vm in vms)[PowerState.STOPPED] == 5
    assert Counter(vm.tags["tier"] for vm in vms) == {"gold": 10, "silver": 40}
    assert sum(vm.script_fault == "wedged" for vm in vms) == 5
    assert {vm.tags["env"] for vm in vms} == {"prod"}


def test_apportion_keeps_counts_within_one_of_the_quota() -> None:
    rng = random.Random(3)
    for n in range(0, 40):
        labels = apportion(rng, {"a": 0.33, "b": 0.5, "c": 0.17}, n)
        assert len(labels) == n
        counts = Counter(labels)
        for label, share in (("a", 0.33), ("b", 0.5), ("c", 0.17)):
            assert abs(counts[label] - n * share) < 1


def test_overrides_match_globs_case_insensitively() -> None:
    profile = load_profile(CONFIGS / "small.yaml")
    data = profile.model_dump()
    data["overrides"] = [
        {"names": ["APP-0[12]", "vmss-small_3"], "power_state": "stopped", "agent": "not_ready"},
        {"names": ["app-02"], "script": "wedged"},
    ]
    inventory = build_inventory(parse_profile(data))
    by_name = {vm.name: vm for vm in inventory.all_targets()}
    for name in ("app-01", "app-02", "vmss-small_3"):
        assert by_name[name].power_state is PowerState.STOPPED
        assert by_name[name].agent is AgentState.NOT_READY
    assert by_name["app-02"].script_fault == "wedged"
    assert by_name["app-03"].power_state is PowerState.RUNNING


def test_tenant_id_for_matches_the_subscriptions() -> None:
    profile = load_profile(CONFIGS / "small.yaml")
    inventory = build_inventory(profile, seed=5)
    assert {s.tenant_id for s in inventory.subscriptions.values()} == {tenant_id_for(profile, 5)}

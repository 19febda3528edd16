"""End to end through the real SDK clients: the read surface an engine uses to find its targets.

ARM ``resources.list`` with ``$filter``/``$top``/``nextLink`` paging; VMs (list, list all with
``statusOnly``, get with instance view, instance view); scale sets and their Uniform/Flexible
instances; 404s with ARM's error codes. Expected sets are computed from the emulator's inventory
(ground truth), never hard-coded beyond what the small profile documents.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from fleet.sim.emulator import Emulator
from fleet.sim.model import SimVm
from tests import simkit

pytestmark = pytest.mark.anyio

RG = "rg-small"
VM_TYPE = "Microsoft.Compute/virtualMachines"
VMSS_TYPE = "Microsoft.Compute/virtualMachineScaleSets"


def _small_with_agent_not_ready() -> Any:
    base = simkit.profile("small")
    overrides = [o.model_dump(mode="json", exclude_unset=True) for o in base.overrides]
    overrides.append({"names": ["app-05"], "agent": "not_ready"})
    return simkit.profile("small", overrides=overrides)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """small + app-05 with a guest agent that is not ready; time scale 50."""
    async with Emulator(_small_with_agent_not_ready(), time_scale=50) as emulator:
        yield emulator


def _vm_names(emu: Emulator, pred: Any = lambda vm: True) -> set[str]:
    return {vm.name for vm in emu.world.inventory.vms.values() if pred(vm)}


def _all_resource_ids(emu: Emulator) -> set[str]:
    inv = emu.world.inventory
    ids = [*(v.id for v in inv.vms.values()), *(s.id for s in inv.scale_sets.values())]
    return {*ids, *(r.id for r in inv.others)}


async def _error(awaitable: Any) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as info:
        await awaitable
    return info.value


# --- resources.list / list_by_resource_group -------------------------------------------------


async def test_resources_list_filters(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    async with simkit.clients(emu) as arm:
        res = arm.resources(sub).resources
        everything = [r async for r in res.list()]
        assert {r.id for r in everything} == _all_resource_ids(emu)
        assert all(r.tags is not None for r in everything)  # no tag filter: tags present

        apps = [r async for r in res.list(filter="tagName eq 'role' and tagValue eq 'app'")]
        assert {r.name for r in apps} == {f"app-{i:02d}" for i in range(1, 13)}
        assert all(r.tags is None for r in apps)  # ARM omits tags when filtering by tag

        team = [r async for r in res.list_by_resource_group(RG, filter="tagName eq 'team'")]
        tagged = [r for r in emu.world.inventory.vms.values() if "team" in r.tags]
        tagged_sets = [s for s in emu.world.inventory.scale_sets.values() if "team" in s.tags]
        assert {r.id for r in team} == {r.id for r in [*tagged, *tagged_sets]}
        assert all(r.tags is None for r in team)

        sets = [r async for r in res.list(filter=f"resourceType eq '{VMSS_TYPE}'")]
        assert {r.name for r in sets} == {"vmss-small", "vmss-flex"}
        assert all(r.type == VMSS_TYPE and r.tags for r in sets)

        sub_of = [r async for r in res.list(filter="substringof('app-1', name)")]
        assert {r.name for r in sub_of} == {"app-10", "app-11", "app-12"}

        both = "substringof('flex', name) and resourceType eq 'Microsoft.Compute/virtualMachines'"
        flex_vms = [r async for r in res.list_by_resource_group(RG, filter=both)]
        assert {r.name for r in flex_vms} == _vm_names(emu, lambda v: v.scale_set is not None)


async def test_resources_list_forbidden_filter_is_a_400_naming_the_problem(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    bad = f"tagName eq 'role' and resourceType eq '{VM_TYPE}'"
    async with simkit.clients(emu) as arm:
        exc = await _error(arm.resources(sub).resources.list(filter=bad).__anext__())
    assert exc.status_code == 400
    assert exc.error is not None and exc.error.code == "InvalidFilterInQueryString"
    assert "tag filter" in exc.error.message and bad in exc.error.message


async def test_resources_list_top_is_a_page_size_and_pager_walks_every_page(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    async with simkit.clients(emu) as arm:
        pages = arm.resources(sub).resources.list(top=3).by_page()
        sizes, ids = [], []
        async for one_page in pages:
            items = [r.id async for r in one_page]
            sizes.append(len(items))
            ids.extend(items)
    assert sizes[0] == 3 and all(s <= 3 for s in sizes) and len(sizes) > 1
    assert sorted(ids) == sorted(_all_resource_ids(emu))


async def test_next_link_paging_delivers_each_item_exactly_once() -> None:
    async with Emulator(simkit.profile("small"), time_scale=50, page_size=5) as emu:
        sub = emu.info.subscriptions[0]
        async with simkit.clients(emu) as arm:
            res, compute = arm.resources(sub).resources, arm.compute(sub)
            page_sizes = [len([r async for r in p]) async for p in res.list().by_page()]
            ids = [r.id async for r in res.list()]
            filtered = [r.name async for r in res.list(filter="tagName eq 'role'")]
            vms = [v.name async for v in compute.virtual_machines.list_all(status_only="true")]
            by_rg = [v.name async for v in compute.virtual_machines.list(RG)]
            uniform = [
                i.instance_id
                async for i in compute.virtual_machine_scale_set_vms.list(RG, "vmss-small")
            ]
    assert len(page_sizes) > 2 and all(s == 5 for s in page_sizes[:-1])
    assert len(ids) == len(set(ids)) and set(ids) == _all_resource_ids(emu)
    tagged = _vm_names(emu, lambda v: "role" in v.tags) | {"vmss-small", "vmss-flex"}
    assert len(filtered) == len(set(filtered)) and set(filtered) == tagged
    assert len(vms) == len(set(vms)) == 16 and set(vms) == _vm_names(emu)
    assert sorted(by_rg) == sorted(vms)
    assert sorted(uniform) == ["0", "1", "2", "3"]


# --- virtual machines ------------------------------------------------------------------------


def _power(view: Any) -> str | None:
    codes = [s.code for s in (view.statuses or []) if s.code.startswith("PowerState/")]
    return codes[0] if codes else None


async def test_list_all_status_only_reports_power_states(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    async with simkit.clients(emu) as arm:
        vms = [v async for v in arm.compute(sub).virtual_machines.list_all(status_only="true")]
    states = {v.name: _power(v.properties.instance_view) for v in vms}
    assert states["app-12"] == "PowerState/deallocated"
    expected = {
        vm.name: f"PowerState/{vm.power_state.value}" for vm in emu.world.inventory.vms.values()
    }
    assert states == expected
    assert sum(code == "PowerState/running" for code in states.values()) == 15


async def test_list_by_resource_group_and_get_with_instance_view(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    async with simkit.clients(emu) as arm:
        ops = arm.compute(sub).virtual_machines
        listed = [v async for v in ops.list(RG)]
        vm = await ops.get(RG, "app-01", expand="instanceView")
        plain = await ops.get(RG, "app-01")
    assert {v.name for v in listed} == _vm_names(emu)
    truth: SimVm = emu.world.inventory.vm(sub, RG, "app-01")  # type: ignore[assignment]
    assert vm.id == truth.id and vm.location == "eastus" and vm.zones == [truth.zone]
    assert vm.properties.vm_id == truth.vm_id
    assert vm.properties.hardware_profile.vm_size == truth.vm_size
    assert vm.properties.storage_profile.os_disk.os_type == "Linux"
    assert vm.properties.os_profile.computer_name == truth.computer_name
    assert vm.properties.provisioning_state == "Succeeded"
    assert vm.tags == truth.tags
    assert _power(vm.properties.instance_view) == "PowerState/running"
    assert vm.properties.instance_view.vm_agent.vm_agent_version == truth.agent_version
    assert plain.properties.instance_view is None


async def test_instance_view_agent_ready_not_ready_and_deallocated(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    async with simkit.clients(emu) as arm:
        ops = arm.compute(sub).virtual_machines
        ready = await ops.instance_view(RG, "app-01")
        not_ready = await ops.instance_view(RG, "app-05")
        dealloc = await ops.instance_view(RG, "app-12")
    assert _power(ready) == "PowerState/running"
    truth = emu.world.inventory.vm(sub, RG, "app-01")
    assert truth is not None and ready.vm_agent.vm_agent_version == truth.agent_version
    assert ready.vm_agent.statuses[0].display_status == "Ready"
    assert ready.computer_name == "app-01"
    assert _power(not_ready) == "PowerState/running"
    assert not_ready.vm_agent.vm_agent_version == "Unknown"
    assert not_ready.vm_agent.statuses[0].display_status == "Not Ready"
    assert not_ready.vm_agent.statuses[0].level == "Warning"
    assert _power(dealloc) == "PowerState/deallocated"
    assert dealloc.vm_agent is None  # a deallocated VM has no running guest agent


# --- scale sets and their instances ----------------------------------------------------------


async def test_scale_sets_list_get_and_orchestration_modes(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    async with simkit.clients(emu) as arm:
        ops = arm.compute(sub).virtual_machine_scale_sets
        in_rg = [s async for s in ops.list(RG)]
        everywhere = [s async for s in ops.list_all()]
        uniform = await ops.get(RG, "vmss-small")
        flexible = await ops.get(RG, "vmss-flex")
    assert {s.name for s in in_rg} == {s.name for s in everywhere} == {"vmss-small", "vmss-flex"}
    assert uniform.properties.orchestration_mode == "Uniform"
    assert flexible.properties.orchestration_mode == "Flexible"
    assert uniform.sku.capacity == 4 and flexible.sku.capacity == 4
    assert uniform.zones == ["1", "2"]
    prefix = uniform.properties.virtual_machine_profile.os_profile.computer_name_prefix
    truth = emu.world.inventory.scale_set(sub, RG, "vmss-small")
    assert truth is not None
    assert all(i.computer_name.startswith(prefix) for i in truth.instances)


async def test_uniform_instances_list_get_and_instance_view(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    async with simkit.clients(emu) as arm:
        ops = arm.compute(sub).virtual_machine_scale_set_vms
        plain = [i async for i in ops.list(RG, "vmss-small")]
        viewed = [i async for i in ops.list(RG, "vmss-small", expand="instanceView")]
        one = await ops.get(RG, "vmss-small", "2")
        view = await ops.get_instance_view(RG, "vmss-small", "2")
    assert [i.instance_id for i in plain] == ["0", "1", "2", "3"]
    assert all(i.properties.instance_view is None for i in plain)
    assert all(_power(i.properties.instance_view) == "PowerState/running" for i in viewed)
    ss_id = f"/subscriptions/{sub}/resourceGroups/{RG}/providers/{VMSS_TYPE}/vmss-small"
    assert one.id == f"{ss_id}/virtualMachines/2" and one.name == "vmss-small_2"
    assert one.properties.latest_model_applied is True
    assert _power(view) == "PowerState/running"
    assert view.vm_agent.statuses[0].display_status == "Ready"


async def test_flexible_instances_reference_their_vms(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    async with simkit.clients(emu) as arm:
        compute = arm.compute(sub)
        members = [i async for i in compute.virtual_machine_scale_set_vms.list(RG, "vmss-flex")]
        first = await compute.virtual_machine_scale_set_vms.get(
            RG, "vmss-flex", members[0].instance_id
        )
        view = await compute.virtual_machine_scale_set_vms.get_instance_view(
            RG, "vmss-flex", members[0].instance_id
        )
        vms = {v.name: v async for v in compute.virtual_machines.list(RG)}
    assert len(members) == 4
    ss = emu.world.inventory.scale_set(sub, RG, "vmss-flex")
    assert ss is not None
    for member in members:
        # compute 39 has no attribute for it; the models are dict-like, so read the wire key.
        vm_id = member["virtualMachineResourceId"]
        name = vm_id.rsplit("/", 1)[1]
        assert name == member.instance_id and name in vms
        assert vms[name].properties.virtual_machine_scale_set.id == ss.id
    assert first["virtualMachineResourceId"] == members[0]["virtualMachineResourceId"]
    assert _power(view) == "PowerState/running"
    plain_vms = [v for v in vms.values() if v.properties.virtual_machine_scale_set is None]
    assert len(plain_vms) == 12


# --- 404s --------------------------------------------------------------------------------------


async def test_not_found_codes(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    ghost_sub = "00000000-0000-4000-8000-00000000dead"
    async with simkit.clients(emu) as arm:
        vms = arm.compute(sub).virtual_machines
        with pytest.raises(ResourceNotFoundError) as vm_missing:
            await vms.get(RG, "app-99")
        with pytest.raises(ResourceNotFoundError) as rg_missing:
            await vms.get("rg-nope", "app-01")
        with pytest.raises(ResourceNotFoundError) as sub_missing:
            await arm.compute(ghost_sub).virtual_machines.get(RG, "app-01")
        with pytest.raises(ResourceNotFoundError) as inst_missing:
            await arm.compute(sub).virtual_machine_scale_set_vms.get(RG, "vmss-small", "9")
        with pytest.raises(ResourceNotFoundError) as ss_missing:
            await arm.compute(sub).virtual_machine_scale_sets.get(RG, "vmss-nope")
        with pytest.raises(ResourceNotFoundError) as list_rg_missing:
            await arm.resources(sub).resources.list_by_resource_group("rg-nope").__anext__()
    codes = {
        "vm": vm_missing.value.error.code,
        "rg": rg_missing.value.error.code,
        "sub": sub_missing.value.error.code,
        "instance": inst_missing.value.error.code,
        "scale set": ss_missing.value.error.code,
        "resources in rg": list_rg_missing.value.error.code,
    }
    assert codes == {
        "vm": "ResourceNotFound",
        "rg": "ResourceGroupNotFound",
        "sub": "SubscriptionNotFound",
        "instance": "ResourceNotFound",
        "scale set": "ResourceNotFound",
        "resources in rg": "ResourceGroupNotFound",
    }
    assert "app-99" in vm_missing.value.error.message
    assert "rg-nope" in rg_missing.value.error.message
    assert ghost_sub in sub_missing.value.error.message

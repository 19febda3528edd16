"""``fleet.ports.TargetSource`` with the real SDK: find the VMs and scale-set instances a selector
means, with OS and power state, in bulk.

Two paths, both paged list calls (never one GET per VM):
- Resource Graph when the selector has a KQL ``query`` or tags across several subscriptions:
  one query returns VMs, Flexible members and scale sets with tags, OS and power state.
- ARM lists otherwise: ``virtualMachines.list_all`` (OS, zone, tags, scale-set membership) plus
  ``list_all(statusOnly=true)`` (power state), per subscription. ``resources.list`` is not used:
  it carries neither OS nor power state, and drops ``tags`` under a tag ``$filter``, so it would
  need a GET per VM afterwards.
Uniform instances are not in Resource Graph's ``Resources`` table: each selected Uniform scale
set is expanded with ``virtualMachineScaleSetVMs.list(expand=instanceView)``.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

import aiohttp
import anyio
from azure.core.exceptions import AzureError
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from fleet.azure.clients import ArmClients
from fleet.azure.failures import selection_failure
from fleet.azure.graph_query import VM_TYPE, VMSS_TYPE, graph_query
from fleet.azure.run_commands import enum_text
from fleet.errors import SelectionError, SpecError
from fleet.model import Selector, Target, TargetKind


def _rg_of(arm_id: str) -> str:
    parts = arm_id.split("/")
    return parts[4] if len(parts) > 4 else ""


def _power(statuses: Sequence[Any] | None) -> str | None:
    for status in statuses or ():
        code = status.get("code") if isinstance(status, dict) else getattr(status, "code", None)
        if isinstance(code, str) and code.startswith("PowerState/"):
            return code.split("/", 1)[1]
    return None


def _tags(tags: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((tags or {}).items()))


def _graph_vm(row: dict[str, Any]) -> Target:
    props = row.get("properties") or {}
    ss_id = (props.get("virtualMachineScaleSet") or {}).get("id")
    os_type = ((props.get("storageProfile") or {}).get("osDisk") or {}).get("osType")
    power = ((props.get("extended") or {}).get("instanceView") or {}).get("powerState") or {}
    zones = row.get("zones") or []
    return Target(
        id=row["id"],
        name=row["name"],
        kind=TargetKind.VMSS_FLEXIBLE if ss_id else TargetKind.VM,
        subscription=row["subscriptionId"],
        resource_group=_rg_of(row["id"]),
        location=row["location"],
        zone=zones[0] if zones else None,
        os=os_type.lower() if os_type else None,
        power_state=_power([power]) if power else None,
        scale_set=ss_id.rsplit("/", 1)[-1] if ss_id else None,
        tags=_tags(row.get("tags")),
    )


class AzureTargets:
    def __init__(self, clients: ArmClients, default_subscriptions: Sequence[str] = ()) -> None:
        self.clients = clients
        self.default_subscriptions = tuple(default_subscriptions)

    async def select(self, selector: Selector, *, need_os: bool = True) -> list[Target]:
        subs = selector.subscriptions or self.default_subscriptions
        if not subs:
            message = (
                "No subscription to search: pass --subscription (repeatable) or list "
                "targets.subscriptions in the job spec."
            )
            raise SpecError(message)
        try:
            if selector.query or (selector.tags and len(subs) > 1):
                vms, scale_sets = await self._via_graph(subs, selector)
            else:
                vms, scale_sets = await self._via_arm(subs)
            instances = await self._uniform_instances(scale_sets, selector)
        except (AzureError, ssl.SSLError, aiohttp.ClientError, BaseExceptionGroup) as exc:
            failure = selection_failure(exc, self.clients.conn.endpoint)
            if failure is None:
                raise
            raise failure from exc
        selected = [t for t in (*vms, *instances) if selector.matches(t)]
        if not selector.include_scale_sets:
            selected = [t for t in selected if t.kind is TargetKind.VM]
        return sorted(selected, key=lambda t: t.id.lower())

    async def _graph_rows(self, subs: Sequence[str], query: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            options = QueryRequestOptions(top=1000, skip_token=token, result_format="objectArray")
            page = await self.clients.graph.resources(
                QueryRequest(subscriptions=list(subs), query=query, options=options)
            )
            data = page.data
            rows.extend(data if isinstance(data, list) else [])  # objectArray: a list of rows
            token = page.skip_token
            if not token:
                return rows

    async def _via_graph(
        self, subs: Sequence[str], selector: Selector
    ) -> tuple[list[Target], list[dict[str, Any]]]:
        rows = await self._graph_rows(subs, graph_query(selector))
        if selector.query:
            picked = await self._graph_rows(subs, selector.query)
            if picked and "id" not in picked[0]:
                raise SelectionError(
                    "targets.query must return the 'id' column "
                    "(add `| project id, ...` or leave project out)."
                )
            wanted = {str(r.get("id", "")).lower() for r in picked}
            rows = [r for r in rows if r["id"].lower() in wanted]
        vms = [_graph_vm(r) for r in rows if r["type"].lower() == VM_TYPE]
        scale_sets = [
            {
                "id": r["id"],
                "name": r["name"],
                "subscription": r["subscriptionId"],
                "mode": (r.get("properties") or {}).get("orchestrationMode"),
                "tags": r.get("tags") or {},
            }
            for r in rows
            if r["type"].lower() == VMSS_TYPE
        ]
        return vms, scale_sets

    async def _via_arm(self, subs: Sequence[str]) -> tuple[list[Target], list[dict[str, Any]]]:
        vms: list[Target] = []
        scale_sets: list[dict[str, Any]] = []

        async def one(sub: str) -> None:
            got_vms, got_sets = await self._arm_subscription(sub)
            vms.extend(got_vms)
            scale_sets.extend(got_sets)

        async with anyio.create_task_group() as tg:
            for sub in subs:
                tg.start_soon(one, sub)
        return vms, scale_sets

    async def _arm_subscription(self, sub: str) -> tuple[list[Target], list[dict[str, Any]]]:
        compute = self.clients.compute(sub)
        power: dict[str, str | None] = {}
        async for vm in compute.virtual_machines.list_all(status_only="true"):
            if vm.id is not None:
                statuses = vm.instance_view.statuses if vm.instance_view else None
                power[vm.id.lower()] = _power(statuses)
        vms = []
        async for vm in compute.virtual_machines.list_all():
            if vm.id is None or vm.name is None:  # ARM lists always carry both
                continue
            ss = vm.virtual_machine_scale_set.id if vm.virtual_machine_scale_set else None
            os_disk = vm.storage_profile.os_disk if vm.storage_profile else None
            vms.append(
                Target(
                    id=vm.id,
                    name=vm.name,
                    kind=TargetKind.VMSS_FLEXIBLE if ss else TargetKind.VM,
                    subscription=sub,
                    resource_group=_rg_of(vm.id),
                    location=vm.location,
                    zone=vm.zones[0] if vm.zones else None,
                    os=(enum_text(os_disk.os_type) or "").lower() or None if os_disk else None,
                    power_state=power.get(vm.id.lower()),
                    scale_set=ss.rsplit("/", 1)[-1] if ss else None,
                    tags=_tags(vm.tags),
                )
            )
        sets = [
            {
                "id": s.id,
                "name": s.name,
                "subscription": sub,
                "mode": enum_text(s.orchestration_mode),
                "tags": s.tags or {},
            }
            async for s in compute.virtual_machine_scale_sets.list_all()
        ]
        return vms, sets

    async def _uniform_instances(
        self, scale_sets: list[dict[str, Any]], selector: Selector
    ) -> list[Target]:
        if not selector.include_scale_sets:
            return []
        uniform = [s for s in scale_sets if str(s["mode"] or "Uniform") == "Uniform"]
        found: list[Target] = []

        async def one(ss: dict[str, Any]) -> None:
            compute = self.clients.compute(ss["subscription"])
            rg = _rg_of(ss["id"])
            async for inst in compute.virtual_machine_scale_set_vms.list(
                rg, ss["name"], expand="instanceView"
            ):
                found.append(self._instance(ss, rg, inst))

        async with anyio.create_task_group() as tg:
            for ss in uniform:
                tg.start_soon(one, ss)
        return found

    @staticmethod
    def _instance(ss: dict[str, Any], rg: str, inst: Any) -> Target:
        view = inst.instance_view
        os_disk = inst.storage_profile.os_disk if inst.storage_profile else None
        return Target(
            id=inst.id,
            name=inst.name,
            kind=TargetKind.VMSS_UNIFORM,
            subscription=ss["subscription"],
            resource_group=rg,
            location=inst.location,
            zone=inst.zones[0] if inst.zones else None,
            os=(enum_text(os_disk.os_type) or "").lower() or None if os_disk else None,
            power_state=_power(view.statuses if view else None),
            scale_set=ss["name"],
            instance_id=inst.instance_id,
            fault_domain=view.platform_fault_domain if view else None,
            tags=_tags(inst.tags or ss["tags"]),
        )

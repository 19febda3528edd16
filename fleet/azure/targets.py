"""``fleet.ports.TargetSource`` with the real SDK: find the VMs and scale-set instances a selector
means, with OS and power state, in bulk.

Two paths, both paged list calls (never one GET per VM):
- Resource Graph when the selector has a KQL ``query`` or tags across several subscriptions:
  one query returns VMs, Flexible members and scale sets with tags, OS and power state.
- ARM lists otherwise: ``virtualMachines.list_all`` (OS, zone, tags, scale-set membership) plus
  ``list_all(statusOnly=true)`` (power state) and ``virtualMachineScaleSets.list_all``, per
  subscription. ``resources.list`` is not used: it carries neither OS nor power state, and
  drops ``tags`` under a tag ``$filter``, so it would need a GET per VM afterwards.
Uniform instances are not in Resource Graph's ``Resources`` table: each selected Uniform scale
set is expanded with ``virtualMachineScaleSetVMs.list(expand=instanceView)``.

What can run at once does: every subscription, the three lists of one subscription, every
scale set's expansion (pages of one list follow each other's ``nextLink``). The throttle policy
in each client's pipeline keeps them all inside the read budget. The ARM lists are read raw
(``fleet.azure.raw``, ``fleet.azure.wire``): building the SDK's VM models cost four fifths of
selection's CPU.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

import aiohttp
import anyio
from azure.core.exceptions import AzureError
from azure.mgmt.compute.operations._operations import (
    build_virtual_machine_scale_set_vms_list_request,
    build_virtual_machine_scale_sets_list_all_request,
    build_virtual_machines_list_all_request,
)
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from fleet.azure.clients import ArmClients
from fleet.azure.failures import selection_failure
from fleet.azure.graph_query import VM_TYPE, VMSS_TYPE, graph_query
from fleet.azure.raw import pages
from fleet.azure.wire import (
    instance_target,
    power_state,
    resource_group,
    scale_set_of,
    tags_of,
    vm_target,
)
from fleet.errors import SelectionError, SpecError
from fleet.model import Selector, Target, TargetKind


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
        resource_group=resource_group(row["id"]),
        location=row["location"],
        zone=zones[0] if zones else None,
        os=os_type.lower() if os_type else None,
        power_state=power_state([power]) if power else None,
        scale_set=ss_id.rsplit("/", 1)[-1] if ss_id else None,
        tags=tags_of(row.get("tags")),
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
            expand = selector.include_scale_sets
            if selector.query or (selector.tags and len(subs) > 1):
                vms, scale_sets = await self._via_graph(subs, selector)
                found = [*vms, *(await self._uniform_instances(scale_sets) if expand else [])]
            else:
                found = await self._via_arm(subs, expand)
        except (AzureError, ssl.SSLError, aiohttp.ClientError, BaseExceptionGroup) as exc:
            failure = selection_failure(exc, self.clients.conn.endpoint)
            if failure is None:
                raise
            raise failure from exc
        selected = [t for t in found if selector.matches(t)]
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

    async def _via_arm(self, subs: Sequence[str], expand: bool) -> list[Target]:
        """Every VM and (``expand``) Uniform instance of ``subs``: all lists at once."""
        found: list[Target] = []
        async with anyio.create_task_group() as tg:
            for sub in subs:
                tg.start_soon(self._arm_subscription, sub, found, expand)
        return found

    async def _arm_subscription(self, sub: str, found: list[Target], expand: bool) -> None:
        """One subscription's lists at once: power states, VMs, and scale sets, whose Uniform
        ones are expanded as soon as they are listed."""
        compute = self.clients.compute(sub)
        power: dict[str, str | None] = {}
        docs: list[dict[str, Any]] = []

        async def statuses() -> None:
            request = build_virtual_machines_list_all_request(sub, status_only="true")
            async for page in pages(compute, request):
                for doc in page:
                    if isinstance(doc, dict) and isinstance(doc.get("id"), str):
                        view = (doc.get("properties") or {}).get("instanceView") or {}
                        power[doc["id"].lower()] = power_state(view.get("statuses"))

        async def machines() -> None:
            async for page in pages(compute, build_virtual_machines_list_all_request(sub)):
                docs.extend(d for d in page if isinstance(d, dict))

        async def sets() -> None:
            request = build_virtual_machine_scale_sets_list_all_request(sub)
            listed = [
                ss
                async for page in pages(compute, request)
                for ss in (scale_set_of(d, sub) for d in page if isinstance(d, dict))
                if ss is not None
            ]
            if expand:
                found.extend(await self._uniform_instances(listed))

        async with anyio.create_task_group() as tg:
            for lister in (statuses, machines, sets):
                tg.start_soon(lister)
        for doc in docs:  # power states joined once both lists are complete
            target = vm_target(doc, sub, power.get(str(doc.get("id", "")).lower()))
            if target is not None:
                found.append(target)

    async def _uniform_instances(self, scale_sets: list[dict[str, Any]]) -> list[Target]:
        uniform = [s for s in scale_sets if str(s["mode"] or "Uniform") == "Uniform"]
        found: list[Target] = []

        async def one(ss: dict[str, Any]) -> None:
            request = build_virtual_machine_scale_set_vms_list_request(
                resource_group(ss["id"]), ss["name"], ss["subscription"], expand="instanceView"
            )
            async for page in pages(self.clients.compute(ss["subscription"]), request):
                for doc in page:
                    target = instance_target(doc, ss) if isinstance(doc, dict) else None
                    if target is not None:
                        found.append(target)

        async with anyio.create_task_group() as tg:  # every scale set in parallel
            for ss in uniform:
                tg.start_soon(one, ss)
        return found

"""End to end through ``ResourceGraphClient.resources``: the KQL subset, paging, result formats,
refusals of unsupported KQL, and the per-user quota (headers and 429, over raw requests).

Graph tests run on a profile whose quota is out of reach (the quota test has its own), so a
loaded machine firing many queries inside one 5-second window can never make them flaky.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from fleet.sim.emulator import Emulator
from fleet.sim.model import PowerState
from tests import simkit

pytestmark = pytest.mark.anyio

GRAPH_PATH = "/providers/Microsoft.ResourceGraph/resources"
GRAPH_API = "2021-03-01"  # what azure-mgmt-resourcegraph 8.0.1 sends
VMS = "Resources | where type =~ 'Microsoft.Compute/virtualMachines'"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    unlimited = {"resource_graph": {"queries": 100_000, "window": 5}}
    async with Emulator(simkit.profile("small", throttling=unlimited), time_scale=50) as emulator:
        yield emulator


async def _query(emu: Emulator, query: str, **options: Any) -> Any:
    request = QueryRequest(
        subscriptions=list(emu.info.subscriptions),
        query=query,
        options=QueryRequestOptions(**options) if options else None,
    )
    async with simkit.clients(emu) as arm:
        return await arm.graph.resources(request)


async def _names(emu: Emulator, query: str) -> set[str]:
    response = await _query(emu, query)
    assert response.count == response.total_records == len(response.data)
    return {row["name"] for row in response.data}


def _vm_names(emu: Emulator, pred: Any = lambda vm: True) -> set[str]:
    return {vm.name for vm in emu.world.inventory.vms.values() if pred(vm)}


async def test_where_on_tags_and_string_operators(emu: Emulator) -> None:
    apps = {f"app-{i:02d}" for i in range(1, 13)}
    assert await _names(emu, "Resources | where tags['role'] == 'app' | project name") == apps
    assert await _names(emu, "Resources | where tags.role == 'app' | project name") == apps
    assert await _names(emu, "Resources | where tags.role =~ 'APP' | project name") == apps
    flex = _vm_names(emu, lambda v: v.scale_set is not None) | {"vmss-flex"}
    batch_or_app = "Resources | where tags.role in~ ('APP', 'Batch') | project name"
    assert await _names(emu, batch_or_app) == apps | flex
    assert await _names(emu, "Resources | where name has 'app' | project name") == apps
    starts = "Resources | where name startswith 'vmss' | project name"
    assert await _names(emu, starts) == flex | {"vmss-small"}
    patch_a = _vm_names(emu, lambda v: v.tags.get("patch-group") == "a")
    assert patch_a  # the profile splits app VMs between groups a and b
    query = f"{VMS} | where tags['patch-group'] == 'a' | project name"
    assert await _names(emu, query) == patch_a


async def test_project_extend_order_limit(emu: Emulator) -> None:
    query = (
        f"{VMS} | extend size = properties.hardwareProfile.vmSize "
        "| project id, name, size, rg = resourceGroup | order by name desc | limit 3"
    )
    response = await _query(emu, query)
    by_name = {vm.name: vm for vm in emu.world.inventory.vms.values()}
    names = sorted(by_name, reverse=True)[:3]
    assert [r["name"] for r in response.data] == names
    assert all(set(r) == {"id", "name", "size", "rg"} for r in response.data)
    assert [r["size"] for r in response.data] == [by_name[n].vm_size for n in names]
    assert [r["id"] for r in response.data] == [by_name[n].id for n in names]
    assert {r["rg"] for r in response.data} == {"rg-small"}
    assert response.skip_token is None and response.result_truncated == "false"


async def test_power_state_selects_running_vms(emu: Emulator) -> None:
    query = (
        f"{VMS} | where properties.extended.instanceView.powerState.code == 'PowerState/running' "
        "| project name"
    )
    running = _vm_names(emu, lambda v: v.power_state.value == "running")
    assert "app-12" not in running and len(running) == 15
    assert await _names(emu, query) == running
    code = "properties.extended.instanceView.powerState.code"
    stopped = f"{VMS} | where {code} != 'PowerState/running' | project name"
    assert await _names(emu, stopped) == {"app-12"}


async def test_skip_token_paging_returns_every_row_once(emu: Emulator) -> None:
    query = "Resources | project id, name | order by id asc"
    request = QueryRequest(subscriptions=list(emu.info.subscriptions), query=query)
    seen: list[str] = []
    pages = 0
    async with simkit.clients(emu) as arm:
        token: str | None = None
        while True:
            # $top only on the first request: the skip token carries the page size on.
            first = token is None
            request.options = (
                QueryRequestOptions(top=4) if first else QueryRequestOptions(skip_token=token)
            )
            response = await arm.graph.resources(request)
            pages += 1
            assert response.count == len(response.data) <= 4
            if response.skip_token is not None:
                assert response.count == 4
            seen.extend(row["id"] for row in response.data)
            token = response.skip_token
            if token is None:
                break
            assert pages < 50, "paging does not terminate"
        limited = QueryRequest(
            subscriptions=request.subscriptions,
            query="Resources | project id | limit 10",
            options=QueryRequestOptions(top=4),
        )
        first_limited = await arm.graph.resources(limited)
        take = QueryRequest(subscriptions=request.subscriptions, query="Resources | take 3")
        taken = await arm.graph.resources(take)
    inv = emu.world.inventory
    everything = {*(v.id for v in inv.vms.values()), *(s.id for s in inv.scale_sets.values())}
    everything |= {r.id for r in inv.others}
    assert len(seen) == len(set(seen)) and set(seen) == everything
    assert seen == sorted(seen)
    assert response.total_records == len(everything)
    # A query using limit/take never yields a skip token (Resource Graph's documented rule).
    assert first_limited.count == 4 and first_limited.skip_token is None
    assert taken.count == 3 and taken.skip_token is None


async def test_table_result_format(emu: Emulator) -> None:
    query = f"{VMS} | project name, tags, zones | order by name asc | limit 2"
    response = await _query(emu, query, result_format="table")
    table = response.data
    assert [c["name"] for c in table["columns"]] == ["name", "tags", "zones"]
    assert [c["type"] for c in table["columns"]] == ["string", "object", "object"]
    assert [row[0] for row in table["rows"]] == ["app-01", "app-02"]
    assert table["rows"][0][1]["role"] == "app"
    assert response.count == 2


@pytest.mark.parametrize(
    ("query", "construct"),
    [
        ("Resources | summarize count() by type", "summarize"),
        ("Resources | join kind=inner (Resources) on id", "join"),
        ("Resources | mv-expand tags", "mv-expand"),
    ],
)
async def test_unsupported_kql_is_a_400_naming_the_construct(
    emu: Emulator, query: str, construct: str
) -> None:
    with pytest.raises(HttpResponseError) as info:
        await _query(emu, query)
    assert info.value.status_code == 400
    assert construct in info.value.message


async def test_facets_are_refused_not_answered_empty(emu: Emulator) -> None:
    body = {
        "subscriptions": emu.info.subscriptions,
        "query": "Resources | project id, location",
        "facets": [{"expression": "location", "options": {"$top": 3}}],
    }
    async with (
        simkit.raw(emu) as s,
        s.post(GRAPH_PATH, params={"api-version": GRAPH_API}, json=body) as r,
    ):
        assert r.status == 400
        error = (await r.json())["error"]
    assert "facets" in error["message"].lower()


async def test_quota_headers_on_every_query(small_emu: Emulator) -> None:
    body = {"subscriptions": small_emu.info.subscriptions, "query": "Resources | limit 1"}
    params = {"api-version": GRAPH_API}
    async with simkit.raw(small_emu) as s, s.post(GRAPH_PATH, params=params, json=body) as r:
        assert r.status == 200
        remaining = r.headers["x-ms-user-quota-remaining"]
        resets = r.headers["x-ms-user-quota-resets-after"]
    assert remaining.isdigit() and int(remaining) < 15
    assert re.fullmatch(r"\d\d:\d\d:\d\d", resets)


async def test_sixteenth_query_in_one_window_is_throttled() -> None:
    # A one-hour window instead of 5 s: the window cannot roll over however slow the machine.
    quota = {"resource_graph": {"queries": 15, "window": 3600}}
    async with Emulator(simkit.profile("small", throttling=quota), time_scale=1) as emu:
        body = {"subscriptions": emu.info.subscriptions, "query": "Resources | limit 1"}
        remaining: list[int] = []
        async with simkit.raw(emu) as s:
            for _ in range(15):
                async with s.post(GRAPH_PATH, params={"api-version": GRAPH_API}, json=body) as r:
                    assert r.status == 200, await r.text()
                    remaining.append(int(r.headers["x-ms-user-quota-remaining"]))
            async with s.post(GRAPH_PATH, params={"api-version": GRAPH_API}, json=body) as r:
                status, headers, error = r.status, r.headers, (await r.json())["error"]
        async with simkit.clients(emu) as arm:  # the SDK (retries off) surfaces the same 429
            request = QueryRequest(subscriptions=emu.info.subscriptions, query=body["query"])
            with pytest.raises(HttpResponseError) as sdk_error:
                await arm.graph.resources(request)
    assert remaining == list(range(14, -1, -1))
    assert status == 429
    assert headers["x-ms-user-quota-remaining"] == "0"
    assert re.fullmatch(r"\d\d:\d\d:\d\d", headers["x-ms-user-quota-resets-after"])
    assert int(headers["Retry-After"]) >= 1
    assert error["code"] and error["message"]
    assert sdk_error.value.status_code == 429


async def test_power_state_changes_show_up_in_the_next_query(emu: Emulator) -> None:
    """Rows are cached per emulator; the power state must still be read fresh every query."""
    code = "properties.extended.instanceView.powerState.code"
    query = f"{VMS} | where {code} == 'PowerState/running' | project name"
    before = await _names(emu, query)
    vm = emu.world.inventory.vm(emu.info.subscriptions[0], "rg-small", "app-02")
    assert vm is not None and "app-02" in before
    vm.power_state = PowerState.STOPPED  # as a stop operation would leave it
    assert await _names(emu, query) == before - {"app-02"}
    stopped = await _query(emu, f"{VMS} | where name == 'app-02' | project p = {code}")
    assert stopped.data == [{"p": "PowerState/stopped"}]

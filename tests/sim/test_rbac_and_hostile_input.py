"""Emulator strictness: additive RBAC with deny assignments,
operation polling authorised at the VM, validated runtime faults, no 500 on hostile input,
and the Resource Graph quota window in wall time."""

from __future__ import annotations

import base64
import json

import pytest

from fleet.sim.auth import Permission, Principal
from fleet.sim.emulator import Emulator
from tests import simkit

pytestmark = pytest.mark.anyio
SUB = "00000000-0000-4000-8000-000000000001"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-small"


def test_roles_add_up_and_deny_assignments_win() -> None:
    p = Principal(
        "p", "t", "oid",
        roles=(("/", "Reader"), (RG_ID, "Contributor")),
        denies=((RG_ID + "/providers/Microsoft.Compute/virtualMachines/app-01",
                 frozenset({Permission.WRITE})),),
    )  # fmt: skip
    assert Permission.WRITE in p.permissions_at(RG_ID + "/providers/x/y")
    assert p.permissions_at(f"/subscriptions/{SUB}") == {Permission.READ}
    vm = RG_ID + "/providers/Microsoft.Compute/virtualMachines/app-01/runCommands/x"
    assert Permission.WRITE not in p.permissions_at(vm)
    assert Permission.READ in p.permissions_at(vm)


def test_demo_operator_is_read_only_in_rg_finance_by_a_deny_assignment() -> None:
    world_principal = Emulator(simkit.profile("demo")).world.principals[0]
    finance = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-finance"
    assert world_principal.permissions_at(finance) == {Permission.READ}
    assert Permission.WRITE in world_principal.permissions_at("/subscriptions/x")


async def test_a_resource_group_contributor_can_poll_its_own_operation() -> None:
    principals = [{"name": "rg-op", "token": "rg-token",
                   "roles": [{"scope": RG_ID, "role": "Contributor"}]}]  # fmt: skip
    profile = simkit.profile("small", principals=principals)
    async with Emulator(profile, time_scale=50) as emu, simkit.clients(emu, retries=True) as arm:
        rc = arm.compute(SUB).virtual_machine_run_commands
        body = {"location": "eastus", "properties": {"source": {"script": "true"}}}
        poller = await rc.begin_create_or_update(
            "rg-small", "app-01", "poll", body, polling_interval=0.05
        )
        done = await poller.result()
    assert done.provisioning_state == "Succeeded"


@pytest.mark.parametrize(
    "faults",
    [b"[]", b'{"transient": {"rate": 1, "statuses": []}}',
     b'{"transient": {"rate": 1, "statuses": [200]}}', b'{"transient": {"rate": 2}}',
     b'{"throttle_storms": [{"start": "+x", "duration": 1}]}', b"{not json"],
)  # fmt: skip
async def test_bad_runtime_faults_are_refused_and_change_nothing(small_emu, faults: bytes) -> None:
    async with simkit.raw(small_emu, token=None) as s:
        async with s.put("/_sim/faults", data=faults) as resp:
            assert resp.status == 400, await resp.text()
            assert (await resp.json())["error"]["code"] == "InvalidFaults"
        async with s.get("/_sim/faults") as resp:
            assert (await resp.json())["transient"]["rate"] == 0.0


async def test_hostile_bodies_and_tokens_get_400_not_500(small_emu) -> None:
    deep = b"[" * 100_000
    huge = base64.urlsafe_b64encode(b'{"o": 1e1000}').decode().rstrip("=")
    floaty = base64.urlsafe_b64encode(b'{"o": 1.5}').decode().rstrip("=")
    path = simkit.vm_path(SUB, "rg-small", "app-01") + "/runCommands/x?api-version=2025-04-01"
    async with simkit.raw(small_emu) as s:
        async with s.put(path, data=deep, headers={"Content-Type": "application/json"}) as r:
            assert r.status == 400
        for token in (huge, floaty):
            url = f"/subscriptions/{SUB}/resources?api-version=2025-04-01&$skiptoken={token}"
            async with s.get(url) as r:
                assert r.status == 400 and (await r.json())["error"]["code"] == "InvalidSkipToken"
        graph = "/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01"
        body = {"subscriptions": [SUB], "query": "Resources", "options": {"$top": True}}
        async with s.post(graph, data=json.dumps(body)) as r:
            assert r.status == 400


async def test_graph_quota_window_is_reported_in_wall_time() -> None:
    throttling = {"resource_graph": {"queries": 15, "window": 100}}
    async with Emulator(simkit.profile("small", throttling=throttling), time_scale=10) as emu:
        graph = "/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01"
        body = json.dumps({"subscriptions": [SUB], "query": "Resources | take 1"})
        async with simkit.raw(emu) as s, s.post(graph, data=body) as r:
            hms = r.headers["x-ms-user-quota-resets-after"]
    h, m, sec = (int(x) for x in hms.split(":"))
    assert h * 3600 + m * 60 + sec <= 11  # a 100 Azure-second window at K=10: ~10 wall seconds

"""End to end: injected faults (per-VM faults from the profile, request faults changed at run
time through ``/_sim/faults``), authentication and RBAC, and the introspection API, seen through
the real SDK and raw HTTPS.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import anyio
import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.mgmt.resourcegraph.models import QueryRequest

from fleet.azure.clients import ArmClients, ArmConnection, StaticTokenCredential
from fleet.sim.clock import ManualClock
from fleet.sim.emulator import Emulator
from tests import simkit

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

RG = "rg-small"
API = {"api-version": simkit.COMPUTE_API}
SUB2 = "00000000-0000-4000-8000-000000000002"
READER_TOKEN = "rg-reader-token"
SUB_READER_TOKEN = "sub-reader-token"

FAULTY_VMS = simkit.profile(
    "small",
    overrides=[
        {"names": ["app-12"], "power_state": "deallocated"},
        {"names": ["app-05"], "agent": "not_ready"},
        {"names": ["app-06"], "script": "wedged"},
    ],
    # Azure gives up on a dead agent after ~25 minutes; 250 s keeps the test short at K=50.
    run_commands={"agent_fail_after_s": 250},
)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(FAULTY_VMS, time_scale=50) as emulator:
        yield emulator


def _body(script: str = "uptime", **props: Any) -> dict[str, Any]:
    return {"location": "eastus", "properties": {"source": {"script": script}, **props}}


def _vm_id(emu: Emulator, vm: str) -> str:
    return simkit.vm_path(emu.info.subscriptions[0], RG, vm)


async def _set_faults(emu: Emulator, faults: dict[str, Any]) -> dict[str, Any]:
    async with simkit.raw(emu, token=None) as s, s.put("/_sim/faults", json=faults) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def _sleep_until(emu: Emulator, azure_s: float) -> None:
    clock = emu.world.clock
    await anyio.sleep(max(0.0, clock.to_wall(azure_s - clock.now())) + 0.05)
    assert clock.now() > azure_s


async def _instance_view(ops: Any, vm: str, name: str) -> Any:
    got = await ops.get_by_virtual_machine(RG, vm, name, expand="instanceView")
    return got.instance_view


async def _poll_view(ops: Any, vm: str, name: str, done: Callable[[Any], bool]) -> Any:
    with anyio.fail_after(30):
        while not done(view := await _instance_view(ops, vm, name)):  # noqa: ASYNC110
            # ~5 reads/s: under the per-VM Low Cost Get refill at K=50 (12/min x 50 = 10/s)
            await anyio.sleep(0.2)
    return view


# -- per-VM faults ------------------------------------------------------------------------------


async def test_deallocated_vm_refuses_run_commands(emu: Emulator) -> None:
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        with pytest.raises(HttpResponseError) as refused:
            await ops.begin_create_or_update(RG, "app-12", "x", _body(), polling=False)
    assert refused.value.status_code == 409
    assert refused.value.error.code == "OperationNotAllowed"
    assert "not running" in refused.value.message
    truth = await simkit.ground_truth(emu, "executions")
    assert truth["executions"] == [] and truth["executed_per_target"] == {}


async def test_agent_not_ready_stays_pending_and_the_operation_fails(emu: Emulator) -> None:
    """A dead agent: the run command stays Pending and its operation fails with
    VMAgentStatusCommunicationError after the profile's delay (Azure: ~25 minutes,
    azure-xplat-cli#2794, azure-powershell#5741), whatever the script's timeout (here 20 s)."""
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        poller = await ops.begin_create_or_update(
            RG, "app-05", "na", _body(timeoutInSeconds=20), polling_interval=0.1
        )
        created_at = emu.world.clock.now()
        assert (await _instance_view(ops, "app-05", "na")).execution_state == "Pending"
        with anyio.fail_after(30), pytest.raises(HttpResponseError) as failed:
            await poller.result()
        assert emu.world.clock.now() >= created_at + 250
        assert failed.value.error.code == "VMAgentStatusCommunicationError"
        assert "has not reported status for VM agent" in failed.value.message
        view = await _instance_view(ops, "app-05", "na")
        assert view.execution_state == "Pending"
        assert view.exit_code is None and view.start_time is None
        rc = await ops.get_by_virtual_machine(RG, "app-05", "na")
        assert rc.provisioning_state == "Failed"
    truth = await simkit.ground_truth(emu, "executions")
    (row,) = truth["executions"]
    assert (row["state"], row["started"], row["agent_failed"]) == ("Pending", False, True)


async def test_wedged_script_stays_running(emu: Emulator) -> None:
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        await ops.begin_create_or_update(RG, "app-06", "stuck", _body(), polling=False)
        created_at = emu.world.clock.now()
        await _poll_view(ops, "app-06", "stuck", lambda v: v.execution_state == "Running")
        # small.yaml: pending <= 10 s and duration <= 60 s, so any healthy script is done by now
        await _sleep_until(emu, created_at + 75)
        view = await _instance_view(ops, "app-06", "stuck")
        assert view.execution_state == "Running" and view.end_time is None
        rc = await ops.get_by_virtual_machine(RG, "app-06", "stuck")
        assert rc.provisioning_state == "Creating"


# -- request faults -----------------------------------------------------------------------------


async def test_transient_errors_then_sdk_retries_through_them(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    await _set_faults(emu, {"transient": {"rate": 1.0}})
    async with simkit.raw(emu) as s, s.get(_vm_id(emu, "app-01"), params=API) as r:
        assert r.status in (500, 503)
        assert (await r.json())["error"]["code"] in ("InternalServerError", "ServiceUnavailable")
    async with simkit.clients(emu) as arm:
        with pytest.raises(HttpResponseError) as failed:
            await arm.compute(sub).virtual_machines.get(RG, "app-01")
        assert failed.value.status_code in (500, 503)

    await _set_faults(emu, {"transient": {"rate": 0.5}})
    fast_retries = {
        "retry_total": 12,
        "retry_status": 12,  # the default (3) leaves a 1-in-16 chance per call of failing
        "retry_backoff_factor": 0.01,
        "retry_backoff_max": 0.05,
    }
    async with simkit.clients(emu, retries=True, **fast_retries) as arm:
        compute = arm.compute(sub)
        names = [(await compute.virtual_machines.get(RG, f"app-0{i}")).name for i in range(1, 10)]
        poller = await compute.virtual_machine_run_commands.begin_create_or_update(
            RG, "app-01", "retried", _body(), polling=False
        )
        assert (await poller.result()).name == "retried"
    assert names == [f"app-0{i}" for i in range(1, 10)]
    stats = await simkit.ground_truth(emu, "stats")
    assert stats["faults"]["transient"] >= 2

    await _set_faults(emu, {})
    async with simkit.raw(emu) as s:
        for _ in range(10):
            async with s.get(_vm_id(emu, "app-01"), params=API) as r:
                assert r.status == 200


async def test_connection_resets(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    await _set_faults(emu, {"connection_resets": {"rate": 1.0, "after_processing": 0.0}})
    async with simkit.raw(emu) as s:
        with pytest.raises(aiohttp.ClientError):
            async with s.get(_vm_id(emu, "app-01"), params=API) as r:
                await r.read()
    async with simkit.clients(emu) as arm:
        with pytest.raises((ServiceRequestError, ServiceResponseError)):
            await arm.compute(sub).virtual_machines.get(RG, "app-01")

        await _set_faults(emu, {"connection_resets": {"rate": 1.0, "after_processing": 1.0}})
        ops = arm.compute(sub).virtual_machine_run_commands
        with pytest.raises((ServiceRequestError, ServiceResponseError)):
            await ops.begin_create_or_update(RG, "app-01", "lost", _body(), polling=False)
        await _set_faults(emu, {})
        # The client saw a dropped connection, yet the PUT took effect.
        got = await ops.get_by_virtual_machine(RG, "app-01", "lost")
        assert got.name == "lost"
    truth = await simkit.ground_truth(emu, "executions")
    assert [e["run_command"] for e in truth["executions"]] == ["lost"]
    stats = await simkit.ground_truth(emu, "stats")
    # aiohttp re-sends an idempotent request once when its connection drops: each of the two
    # GETs arrived twice; fleet's session never re-sends a write (fleet.azure.send_once).
    assert stats["faults"]["reset_before"] == 4 and stats["faults"]["reset_after"] == 1
    assert stats["requests"]["VirtualMachineRunCommands_CreateOrUpdate"] == 1


async def test_throttle_storm_then_normal_service() -> None:
    clock = ManualClock(time_scale=10)  # the storm ends exactly when the test says
    async with Emulator(FAULTY_VMS, clock=clock) as emu, simkit.raw(emu) as s:
        clock.advance(100)
        storm = {"start": "+0", "duration": 10, "rate": 1.0, "retry_after": 2}
        config = await _set_faults(emu, {"throttle_storms": [storm]})
        assert config["throttle_storms"][0]["start"] == 100

        async def status() -> int:
            async with s.get(_vm_id(emu, "app-01"), params=API) as r:
                if r.status == 429:
                    assert (await r.json())["error"]["code"] == "SubscriptionRequestsThrottled"
                    assert r.headers["Retry-After"] == "1"  # 2 Azure-s = 0.2 s, at least 1
                    assert r.headers["x-ms-retry-after-ms"] == "200"
                return r.status

        assert [await status() for _ in range(4)] == [429] * 4
        clock.advance(9.9)
        assert await status() == 429
        clock.advance(0.2)
        assert [await status() for _ in range(3)] == [200] * 3
        stats = await simkit.ground_truth(emu, "stats")
        assert stats["throttled"]["storm"] == 5 and stats["faults"]["storm"] == 5

        # Whole seconds are rounded up: 14 Azure-s at K=10 is 1.4 s, so Retry-After says 2.
        await _set_faults(emu, {"throttle_storms": [{**storm, "retry_after": 14}]})
        async with s.get(_vm_id(emu, "app-01"), params=API) as r:
            assert r.status == 429
            assert (r.headers["Retry-After"], r.headers["x-ms-retry-after-ms"]) == ("2", "1400")


async def test_conflict_fault(emu: Emulator) -> None:
    await _set_faults(emu, {"conflicts": {"rate": 1.0}})
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        with pytest.raises(HttpResponseError) as conflict:
            await ops.begin_create_or_update(RG, "app-01", "c", _body(), polling=False)
        assert conflict.value.status_code == 409
        assert conflict.value.error.code == "Conflict"
        await _set_faults(emu, {})
        poller = await ops.begin_create_or_update(RG, "app-01", "c", _body(), polling=False)
        assert (await poller.result()).provisioning_state == "Creating"


# -- authentication and RBAC --------------------------------------------------------------------


async def test_missing_and_bad_tokens_are_401(emu: Emulator) -> None:
    path = _vm_id(emu, "app-01")
    async with simkit.raw(emu, token=None) as s, s.get(path, params=API) as r:
        assert r.status == 401
        assert (await r.json())["error"]["code"] == "AuthenticationFailed"
        assert r.headers["WWW-Authenticate"].startswith("Bearer ")
    async with simkit.raw(emu, token="not-a-token") as s, s.get(path, params=API) as r:
        assert r.status == 401
        assert (await r.json())["error"]["code"] == "InvalidAuthenticationToken"
    conn = ArmConnection(
        StaticTokenCredential("not-a-token"),
        endpoint=emu.info.endpoint,
        ca_cert=emu.info.ca_cert,
        client_kwargs={"retry_total": 0},
    )
    async with ArmClients(conn) as arm:
        with pytest.raises(HttpResponseError) as denied:
            await arm.compute(emu.info.subscriptions[0]).virtual_machines.get(RG, "app-01")
    assert denied.value.status_code == 401
    assert denied.value.error.code == "InvalidAuthenticationToken"


def _rbac_profile() -> Any:
    base = simkit.profile("small").model_dump(mode="json", exclude_unset=True)
    sub1 = base["subscriptions"][0]["id"]
    second = {
        "id": SUB2,
        "name": "sim-other",
        "resource_groups": [
            {"name": "rg-other", "location": "westus", "vms": [{"count": 2, "name": "o-{i}"}]}
        ],
    }
    principals = [
        {"name": "operator", "token": "fleet-sim-token"},
        {
            "name": "rg-reader",
            "token": READER_TOKEN,
            "roles": [{"scope": f"/subscriptions/{sub1}/resourceGroups/{RG}", "role": "Reader"}],
        },
        {
            "name": "sub-reader",
            "token": SUB_READER_TOKEN,
            "roles": [{"scope": f"/subscriptions/{sub1}", "role": "Reader"}],
        },
    ]
    return simkit.profile(
        "small", subscriptions=[*base["subscriptions"], second], principals=principals
    )


@pytest.fixture
async def rbac_emu() -> AsyncIterator[Emulator]:
    async with Emulator(_rbac_profile(), time_scale=50) as emulator:
        yield emulator


async def test_reader_can_read_but_not_run_commands(rbac_emu: Emulator) -> None:
    emu = rbac_emu
    path = _vm_id(emu, "app-01")
    async with simkit.raw(emu, token=READER_TOKEN) as s:
        async with s.get(path, params=API) as r:
            assert r.status == 200
        async with s.put(f"{path}/runCommands/x", params=API, json=_body()) as r:
            assert r.status == 403
            error = (await r.json())["error"]
    assert error["code"] == "AuthorizationFailed"
    assert "Microsoft.Compute/virtualMachines/runCommands/write" in error["message"]
    assert "rg-reader" in error["message"]
    truth = await simkit.ground_truth(emu, "executions")
    assert truth["executions"] == []


async def _graph_subscriptions(emu: Emulator, token: str) -> set[str]:
    conn = ArmConnection(
        StaticTokenCredential(token), endpoint=emu.info.endpoint, ca_cert=emu.info.ca_cert
    )
    query = QueryRequest(
        subscriptions=[emu.info.subscriptions[0], SUB2],
        query="Resources | where type =~ 'microsoft.compute/virtualmachines' "
        "| project subscriptionId",
    )
    async with ArmClients(conn) as arm:
        result = await arm.graph.resources(query)
    return {row["subscriptionId"] for row in result.data}


async def test_resource_graph_omits_what_the_caller_cannot_read(rbac_emu: Emulator) -> None:
    sub1 = rbac_emu.info.subscriptions[0]
    assert await _graph_subscriptions(rbac_emu, "fleet-sim-token") == {sub1, SUB2}
    assert await _graph_subscriptions(rbac_emu, SUB_READER_TOKEN) == {sub1}
    assert await _graph_subscriptions(rbac_emu, READER_TOKEN) == {sub1}  # its group's VMs


# -- introspection ------------------------------------------------------------------------------


async def test_introspection_counts_requests(emu: Emulator) -> None:
    async with simkit.raw(emu, token=None) as s:
        async with s.post("/_sim/reset-stats") as r:
            assert r.status == 200
        async with s.get("/_sim/nope") as r:
            assert r.status == 404
        async with s.put("/_sim/faults", data=b"{not json") as r:
            assert r.status == 400
            assert (await r.json())["error"]["code"] == "InvalidFaults"
    async with simkit.clients(emu) as arm:
        compute = arm.compute(emu.info.subscriptions[0])
        for _ in range(3):
            await compute.virtual_machines.get(RG, "app-01")
        ops = compute.virtual_machine_run_commands
        await ops.begin_create_or_update(RG, "app-01", "i", _body(), polling=False)
        await (await ops.begin_delete(RG, "app-01", "i", polling=False)).result()
    await _set_faults(emu, {"throttle_storms": [{"start": "+0", "duration": 1000}]})
    async with simkit.raw(emu) as s, s.get(_vm_id(emu, "app-01"), params=API) as r:
        assert r.status == 429
    await _set_faults(emu, {})

    stats = await simkit.ground_truth(emu, "stats")
    assert stats["kinds"] == {"reads": 4, "writes": 1, "deletes": 1}
    assert stats["requests"]["VirtualMachines_Get"] == 4
    assert stats["statuses"]["VirtualMachines_Get"] == {"200": 3, "429": 1}
    assert "Unmatched" not in stats["requests"]
    assert stats["throttled_total"] == 1 and stats["throttled"] == {"storm": 1}
    assert stats["time_scale"] == 50 and stats["now"] > 0
    assert stats["total_requests"] == 6

    faults = await simkit.ground_truth(emu, "faults")
    assert faults["transient"]["rate"] == 0.0 and faults["throttle_storms"] == []
    inventory = await simkit.ground_truth(emu, "inventory")
    assert len(inventory["targets"]) == 20
    by_name = {t["name"]: t for t in inventory["targets"]}
    assert by_name["app-12"]["power_state"] == "deallocated"
    assert by_name["app-05"]["agent"] == "not_ready"
    assert by_name["app-06"]["script_fault"] == "wedged"
    executions = await simkit.ground_truth(emu, "executions")
    assert executions["execution_count"] == 1 and executions["canceled"] == 1
    assert json.dumps(executions["executions"][0]).count("app-01") == 1

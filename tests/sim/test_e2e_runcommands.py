"""End to end: managed run commands on VMs and Uniform scale-set instances through the real
azure-mgmt-compute async client (and raw HTTPS where the SDK hides the wire), against an
in-process emulator.

The profile pins every delay (sigma 0) so lifecycles are predictable in Azure-seconds; waits are
on the emulator's own clock or on observed states, never on wall-clock equality.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from azure.core.exceptions import HttpResponseError

from fleet.sim.clock import ManualClock
from fleet.sim.emulator import Emulator
from tests import simkit

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

RG = "rg-small"
API = {"api-version": simkit.COMPUTE_API}
PENDING_S = 10.0  # Azure-seconds from PUT to script start, every execution
DURATION_S = 10.0  # run time of the "ok" and "disk-full" outcomes
MEDIUM_S = 300.0  # run time on app-06: long enough (6 s wall at K=50) to catch it Running
LONG_OUTPUT = "".join(
    f"line {i:05d} of a very chatty health check ...........\n" for i in range(400)
)


def _fixed(seconds: float) -> dict[str, float]:
    return {"median": seconds, "sigma": 0.0, "min": seconds, "max": seconds}


RC_PROFILE = simkit.profile(
    "small",
    script={
        "pending": _fixed(PENDING_S),
        "duration": _fixed(DURATION_S),
        "outcomes": [
            {"name": "ok", "weight": 1.0, "output": "hello from {vm_name}\n"},
            {
                "name": "disk-full",
                "weight": 0.0,
                "exit_code": 1,
                "output": "checking disk\n",
                "error": "ERROR: / is 100% full\n",
            },
            {"name": "chatty", "weight": 0.0, "output": LONG_OUTPUT},
            {"name": "slow", "weight": 0.0, "duration": _fixed(100_000.0)},
            {"name": "medium", "weight": 0.0, "duration": _fixed(MEDIUM_S)},
        ],
    },
    overrides=[
        {"names": ["app-12"], "power_state": "deallocated"},
        {"names": ["app-03"], "outcome": "disk-full"},
        {"names": ["app-04"], "outcome": "chatty"},
        {"names": ["app-05"], "outcome": "slow"},
        {"names": ["app-06"], "outcome": "medium"},
    ],
    # These tests poll instance views far faster than Azure's per-VM Get limits allow (36/min);
    # throttling has its own tests (test_e2e_throttling.py).
    throttling={"enabled": False},
)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(RC_PROFILE, time_scale=50) as emulator:
        yield emulator


def _body(script: str = "uptime", **props: Any) -> dict[str, Any]:
    return {"location": "eastus", "properties": {"source": {"script": script}, **props}}


def _rc_path(emu: Emulator, vm: str, name: str) -> str:
    return f"{simkit.vm_path(emu.info.subscriptions[0], RG, vm)}/runCommands/{name}"


def _vm_id(emu: Emulator, vm: str) -> str:
    return simkit.vm_path(emu.info.subscriptions[0], RG, vm)


_until = simkit.until


async def _until_clock(emu: Emulator, azure_s: float) -> None:
    """Sleep until the emulator's clock has passed ``azure_s``."""
    clock = emu.world.clock
    await anyio.sleep(max(0.0, clock.to_wall(azure_s - clock.now())) + 0.05)
    assert clock.now() > azure_s


def _state(rc: Any) -> str:
    return rc.instance_view.execution_state


async def test_create_returns_201_with_operation_headers(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    async with simkit.clients(emu) as arm:
        ops = arm.compute(sub).virtual_machine_run_commands
        poller = await ops.begin_create_or_update(RG, "app-01", "sdk", _body(), polling=False)
        created = await poller.result()
        assert created.provisioning_state == "Creating"
        assert created.id.endswith("/virtualMachines/app-01/runCommands/sdk")
    async with (
        simkit.raw(emu) as s,
        s.put(_rc_path(emu, "app-02", "raw"), params=API, json=_body()) as r,
    ):
        assert r.status == 201, await r.text()
        body = await r.json()
        op = r.headers["Azure-AsyncOperation"]
        assert "/providers/Microsoft.Compute/locations/eastus/operations/" in op
        assert r.headers["Location"].startswith(op) and "monitor=true" in r.headers["Location"]
    assert body["properties"]["provisioningState"] == "Creating"
    assert body["type"] == "Microsoft.Compute/virtualMachines/runCommands"


async def test_lifecycle_pending_running_succeeded() -> None:
    # At K=5 each phase lasts 2 s of wall time: long enough to be seen by polling.
    async with Emulator(RC_PROFILE, time_scale=5) as emu, simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        await ops.begin_create_or_update(RG, "app-01", "life", _body(), polling=False)
        seen: list[str] = []

        async def read() -> Any:
            got = await ops.get_by_virtual_machine(RG, "app-01", "life", expand="instanceView")
            if not seen or seen[-1] != _state(got):
                seen.append(_state(got))
            return got

        done = await _until(read, lambda rc: _state(rc) == "Succeeded")
    assert seen == ["Pending", "Running", "Succeeded"]
    view = done.instance_view
    assert done.provisioning_state == "Succeeded"
    assert view.exit_code == 0 and view.output == "hello from app-01\n" and view.error == ""
    took = (view.end_time - view.start_time).total_seconds()  # simulated UTC: Azure-seconds
    assert DURATION_S - 0.01 <= took <= DURATION_S + 0.01


async def test_failing_script_and_treat_failure_as_deployment_failure(emu: Emulator) -> None:
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        await ops.begin_create_or_update(RG, "app-03", "plain", _body(), polling=False)
        strict = _body(treatFailureAsDeploymentFailure=True)
        poller = await ops.begin_create_or_update(
            RG, "app-03", "strict", strict, polling_interval=0.05
        )
        with pytest.raises(HttpResponseError) as failed:  # the LRO itself fails
            await poller.result()
        assert "VMExtensionProvisioningError" in str(failed.value)

        async def read(name: str) -> Any:
            return await ops.get_by_virtual_machine(RG, "app-03", name, expand="instanceView")

        plain = await _until(lambda: read("plain"), lambda rc: _state(rc) == "Failed")
        strict_rc = await _until(lambda: read("strict"), lambda rc: _state(rc) == "Failed")
    assert plain.instance_view.exit_code == 1 and "100% full" in plain.instance_view.error
    assert plain.provisioning_state == "Succeeded"
    assert strict_rc.provisioning_state == "Failed"


async def test_sdk_poller_completes_through_async_operation(emu: Emulator) -> None:
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        poller = await ops.begin_create_or_update(
            RG, "app-01", "lro", _body(), polling_interval=0.05
        )
        with anyio.fail_after(15):
            result = await poller.result()
        assert result.provisioning_state == "Succeeded"
        got = await ops.get_by_virtual_machine(RG, "app-01", "lro", expand="instanceView")
        assert _state(got) == "Succeeded"
    stats = await simkit.ground_truth(emu, "stats")
    assert stats["requests"].get("Operations_Get", 0) >= 1  # polled the status endpoint


async def test_output_keeps_last_4096_bytes(emu: Emulator) -> None:
    assert len(LONG_OUTPUT.encode()) > 4096 * 4
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        await ops.begin_create_or_update(RG, "app-04", "chatty", _body(), polling=False)
        got = await _until(
            lambda: ops.get_by_virtual_machine(RG, "app-04", "chatty", expand="instanceView"),
            lambda rc: _state(rc) == "Succeeded",
        )
    output = got.instance_view.output
    assert len(output.encode()) <= 4096
    assert output == LONG_OUTPUT[-4096:]


async def test_identical_put_does_not_rerun_changed_put_does(emu: Emulator) -> None:
    target = _vm_id(emu, "app-01")
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        body = _body(parameters=[{"name": "MODE", "value": "quick"}])
        first = await (
            await ops.begin_create_or_update(RG, "app-01", "idem", body, polling_interval=0.05)
        ).result()
        again = await (
            await ops.begin_create_or_update(RG, "app-01", "idem", body, polling_interval=0.05)
        ).result()
        assert first.provisioning_state == again.provisioning_state == "Succeeded"
        path = _rc_path(emu, "app-01", "idem")
        async with simkit.raw(emu) as s, s.put(path, params=API, json=body) as r:
            assert r.status == 200  # the same body again, raw: 200, not 201
        truth = await simkit.ground_truth(emu, "executions")
        assert truth["executed_per_target"][target]["idem"] == 1
        assert truth["executions_per_target"][target] == 1
        changed = _body(parameters=[{"name": "MODE", "value": "full"}])
        await (
            await ops.begin_create_or_update(RG, "app-01", "idem", changed, polling_interval=0.05)
        ).result()
    truth = await simkit.ground_truth(emu, "executions")
    assert truth["executed_per_target"][target]["idem"] == 2


async def test_patch_updates_and_reruns(emu: Emulator) -> None:
    target = _vm_id(emu, "app-02")
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        await (
            await ops.begin_create_or_update(RG, "app-02", "p", _body(), polling_interval=0.05)
        ).result()
        patch = {
            "properties": {"parameters": [{"name": "LEVEL", "value": "2"}]},
            "tags": {"k": "v"},
        }
        poller = await ops.begin_update(RG, "app-02", "p", patch, polling_interval=0.05)
        with anyio.fail_after(15):
            updated = await poller.result()
        assert updated.provisioning_state == "Succeeded"
        assert updated.tags == {"k": "v"}
        assert [(p.name, p.value) for p in updated.parameters] == [("LEVEL", "2")]
        assert updated.source.script == "uptime"  # untouched fields are kept
    truth = await simkit.ground_truth(emu, "executions")
    assert truth["executed_per_target"][target]["p"] == 2


async def test_list_with_expand_and_concurrent_run_commands(emu: Emulator) -> None:
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        for name in ("one", "two"):  # app-05's scripts run for ~28 Azure-hours
            await ops.begin_create_or_update(RG, "app-05", name, _body(), polling=False)

        async def listing() -> list[Any]:
            pages = ops.list_by_virtual_machine(RG, "app-05", expand="instanceView")
            return [rc async for rc in pages]

        both = await _until(listing, lambda rcs: [_state(rc) for rc in rcs] == ["Running"] * 2)
    assert sorted(rc.name for rc in both) == ["one", "two"]
    assert all(rc.provisioning_state == "Creating" for rc in both)


async def test_delete_while_running_cancels_for_good(emu: Emulator) -> None:
    target = _vm_id(emu, "app-06")
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        await ops.begin_create_or_update(RG, "app-06", "doomed", _body(), polling=False)
        created_at = emu.world.clock.now()
        await _until(
            lambda: ops.get_by_virtual_machine(RG, "app-06", "doomed", expand="instanceView"),
            lambda rc: _state(rc) == "Running",
        )
        poller = await ops.begin_delete(RG, "app-06", "doomed", polling_interval=0.05)
        with anyio.fail_after(15):
            await poller.result()
        with pytest.raises(HttpResponseError) as gone:
            await ops.get_by_virtual_machine(RG, "app-06", "doomed")
        assert gone.value.status_code == 404
    await _until_clock(emu, created_at + PENDING_S + MEDIUM_S + 5)  # past its planned end
    truth = await simkit.ground_truth(emu, "executions")
    (row,) = [e for e in truth["executions"] if e["target"] == target]
    assert row["state"] == "Canceled" and row["canceled"] and row["started"]


async def test_delete_of_missing_is_204(emu: Emulator) -> None:
    async with simkit.raw(emu) as s, s.delete(_rc_path(emu, "app-01", "nope"), params=API) as r:
        assert r.status == 204
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        poller = await ops.begin_delete(RG, "app-01", "nope", polling_interval=0.05)
        with anyio.fail_after(5):
            assert await poller.result() is None


async def test_linux_timeout_is_failed_with_exit_code_minus_one(emu: Emulator) -> None:
    """The Linux handler kills the script at timeoutInSeconds: Failed, exit code -1 (exec.go)."""
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        await ops.begin_create_or_update(
            RG, "app-05", "slow", _body(timeoutInSeconds=20), polling=False
        )
        got = await _until(
            lambda: ops.get_by_virtual_machine(RG, "app-05", "slow", expand="instanceView"),
            lambda rc: _state(rc) not in ("Pending", "Running"),
        )
    view = got.instance_view
    assert view.execution_state == "Failed"
    assert view.exit_code == -1
    assert view.execution_message.endswith("command terminated with exit status=-1")
    took = (view.end_time - view.start_time).total_seconds()
    assert 19.99 <= took <= 20.01


async def test_async_execution_succeeds_while_script_runs(emu: Emulator) -> None:
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands
        poller = await ops.begin_create_or_update(
            RG, "app-05", "bg", _body(asyncExecution=True), polling_interval=0.05
        )
        with anyio.fail_after(15):
            done = await poller.result()
        assert done.provisioning_state == "Succeeded"
        got = await ops.get_by_virtual_machine(RG, "app-05", "bg", expand="instanceView")
    assert _state(got) == "Running"  # a day-long script; provisioning ended when it started
    assert got.provisioning_state == "Succeeded"


async def test_uniform_instance_run_commands(emu: Emulator) -> None:
    sub = emu.info.subscriptions[0]
    async with simkit.clients(emu) as arm:
        ops = arm.compute(sub).virtual_machine_scale_set_vm_run_commands
        poller = await ops.begin_create_or_update(
            RG, "vmss-small", "1", "inst", _body(), polling_interval=0.05
        )
        with anyio.fail_after(15):
            result = await poller.result()
        assert result.provisioning_state == "Succeeded"
        assert (
            result.type == "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands"
        )
        got = await ops.get(RG, "vmss-small", "1", "inst", expand="instanceView")
        assert (
            _state(got) == "Succeeded" and got.instance_view.output == "hello from vmss-small_1\n"
        )
        listed = [rc async for rc in ops.list(RG, "vmss-small", "1", expand="instanceView")]
        assert [rc.name for rc in listed] == ["inst"]
        assert listed[0].instance_view.exit_code == 0
        await (
            await ops.begin_delete(RG, "vmss-small", "1", "inst", polling_interval=0.05)
        ).result()
        assert [rc async for rc in ops.list(RG, "vmss-small", "1")] == []
    truth = await simkit.ground_truth(emu, "executions")
    scale_set = f"/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.Compute"
    instance_id = f"{scale_set}/virtualMachineScaleSets/vmss-small/virtualMachines/1"
    assert truth["executed_per_target"][instance_id]["inst"] == 1


async def test_flexible_member_through_vmss_path_is_400(emu: Emulator) -> None:
    inventory = await simkit.ground_truth(emu, "inventory")
    member = next(t for t in inventory["targets"] if t["kind"] == "vmss-flexible")
    async with simkit.clients(emu) as arm:
        ops = arm.compute(emu.info.subscriptions[0]).virtual_machine_scale_set_vm_run_commands
        with pytest.raises(HttpResponseError) as refused:
            await ops.begin_create_or_update(
                RG, "vmss-flex", member["name"], "x", _body(), polling=False
            )
    assert refused.value.status_code == 400
    assert f"virtualMachines/{member['name']}/runCommands" in refused.value.message
    truth = await simkit.ground_truth(emu, "executions")
    assert truth["executions"] == []


async def _get_json(s: Any, url: str) -> tuple[int, Any, dict[str, str]]:
    async with s.get(url) as r:
        text = await r.text()
        return r.status, (json.loads(text) if text else None), dict(r.headers)


async def test_async_operation_and_monitor_location() -> None:
    """Status documents and ``monitor=true`` Location answers, on a clock stepped by hand."""
    clock = ManualClock(time_scale=50)
    async with Emulator(RC_PROFILE, clock=clock) as emu, simkit.raw(emu) as s:
        path = _rc_path(emu, "app-01", "mon")
        async with s.put(path, params=API, json=_body()) as r:
            assert r.status == 201
            status_url, monitor_url = r.headers["Azure-AsyncOperation"], r.headers["Location"]
        status, doc, _ = await _get_json(s, status_url)
        assert (status, doc["status"]) == (200, "InProgress")
        status, doc, headers = await _get_json(s, monitor_url)
        assert status == 202 and doc is None and "monitor=true" in headers["Location"]

        clock.advance(PENDING_S + DURATION_S + 1)
        status, doc, _ = await _get_json(s, status_url)
        assert (status, doc["status"]) == (200, "Succeeded") and "endTime" in doc
        status, body, _ = await _get_json(s, monitor_url)
        assert status == 200 and body["properties"]["provisioningState"] == "Succeeded"

        async with s.delete(path, params=API) as r:
            assert r.status == 202
            delete_status, delete_monitor = r.headers["Azure-AsyncOperation"], r.headers["Location"]
        assert (await _get_json(s, delete_monitor))[0] == 202
        assert (await _get_json(s, delete_status))[1]["status"] == "InProgress"
        clock.advance(60)
        status, doc, _ = await _get_json(s, delete_monitor)
        assert status == 204 and doc is None
        assert (await _get_json(s, delete_status))[1]["status"] == "Succeeded"
        async with s.get(path, params=API) as r:
            assert r.status == 404


SECRET_PARAM = "pp-0b5e1c-TOP-SECRET"
SECRET_PASSWORD = "pw-77d2a9-HUNTER2"


async def test_secrets_never_echoed(emu: Emulator) -> None:
    body = _body(
        parameters=[{"name": "PUBLIC", "value": "visible"}],
        protectedParameters=[{"name": "TOKEN", "value": SECRET_PARAM}],
        runAsUser="azureuser",
        runAsPassword=SECRET_PASSWORD,
    )
    path = _rc_path(emu, "app-01", "secret")
    texts: list[str] = []
    async with simkit.raw(emu) as s:
        async with s.put(path, params=API, json=body) as r:
            assert r.status == 201
            texts.append(await r.text())
            op_urls = [r.headers["Azure-AsyncOperation"], r.headers["Location"]]
        await _until(lambda: _get_json(s, op_urls[0]), lambda res: res[1]["status"] != "InProgress")
        for url in op_urls:
            async with s.get(url) as r:
                texts.append(await r.text())
        for query in (API, {**API, "$expand": "instanceView"}):
            for url in (path, path.rsplit("/", 1)[0]):
                async with s.get(url, params=query) as r:
                    assert r.status == 200
                    texts.append(await r.text())
        async with s.patch(path, params=API, json={"properties": {"timeoutInSeconds": 60}}) as r:
            assert r.status == 200
            texts.append(await r.text())
    for what in ("executions", "stats", "inventory"):
        texts.append(json.dumps(await simkit.ground_truth(emu, what)))
    assert any("visible" in t for t in texts)  # the check can see parameters at all
    for text in texts:
        assert SECRET_PARAM not in text and SECRET_PASSWORD not in text

"""End to end through the real SDK (and raw HTTPS where the SDK hides the wire): the run-command
behaviours of real Azure the emulator models — the 25-per-VM limit with run commands of others
already on the VM, tags, in-flight instance views, ``runAsUser``, identical PUTs that re-run
with connections dropped after processing, and the ground truth of all of it."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from fleet.sim.emulator import Emulator
from tests import simkit

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

RG = "rg-small"
FLEET_TAGS = {"fleet-managed": "true", "fleet-job": "job-a", "fleet-run-id": "run-1"}
LINES = "".join(f"line {i:03d}\n" for i in range(90))  # 900 bytes over a 90 s script


def _fixed(seconds: float) -> dict[str, float]:
    return {"median": seconds, "sigma": 0.0, "min": seconds, "max": seconds}


PROFILE = simkit.profile(
    "small",
    script={
        "pending": _fixed(2.0),
        "duration": _fixed(4.0),
        "outcomes": [
            {"name": "ok", "output": "ok {vm_name}\n"},
            {"name": "chatty", "weight": 0, "output": LINES, "duration": _fixed(90.0)},
        ],
    },
    overrides=[{"names": ["app-06"], "outcome": "chatty"}],
    run_commands={
        "existing": [
            {"names": ["app-07"], "count": 23, "name": "ops-{i}", "created_by": "backup-tool"},
            {"names": ["app-07"], "name": "fleet-x", "created_by": "cmdb-sync"},  # look-alike
            {"names": ["app-08"], "count": 25, "name": "ops-{i}", "created_by": "backup-tool"},
        ],
    },
    throttling={"enabled": False},  # these tests read far faster than Azure's Get limits allow
)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(PROFILE, time_scale=20) as emulator:
        yield emulator


def _body(script: str = "uptime", tags: dict[str, str] | None = None, **props: Any) -> dict:
    body: dict[str, Any] = {"location": "eastus", "properties": {"source": {"script": script}}}
    body["properties"].update(props)
    if tags is not None:
        body["tags"] = tags
    return body


async def _until(read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool]) -> Any:
    with anyio.fail_after(30):
        while not done(value := await read()):  # noqa: ASYNC110 (polling an HTTP API)
            await anyio.sleep(0.05)
    return value


def _ops(arm: Any, emu: Emulator) -> Any:
    return arm.compute(emu.info.subscriptions[0]).virtual_machine_run_commands


# -- the limit, tags, what is not fleet's -------------------------------------------------------


async def test_limit_of_25_with_others_run_commands_already_there(emu: Emulator) -> None:
    """A VM holding 24 run commands of other tools (one a look-alike named fleet-x) takes one
    more; the 26th is refused with Azure's message; after fleet deletes its own, a new name fits
    again. Ground truth: only fleet's own was ever deleted."""
    async with simkit.clients(emu) as arm:
        ops = _ops(arm, emu)
        mine = _body(tags=FLEET_TAGS)
        poll = {"polling_interval": 0.05}
        await (await ops.begin_create_or_update(RG, "app-07", "fleet-job-a", mine, **poll)).result()
        with pytest.raises(HttpResponseError) as refused:
            await ops.begin_create_or_update(RG, "app-07", "fleet-job-b", _body(), polling=False)
        assert (refused.value.status_code, refused.value.error.code) == (409, "OperationNotAllowed")
        assert refused.value.error.message.startswith(
            "The maximum number of managed Run commands (max=25, current=25) has been exceeded."
        )
        again = await ops.begin_create_or_update(RG, "app-07", "fleet-job-a", _body("v2"), **poll)
        assert (await again.result()).provisioning_state == "Succeeded"  # updating is fine
        listed = {rc.name: rc async for rc in ops.list_by_virtual_machine(RG, "app-07")}
        assert len(listed) == 25 and listed["fleet-job-a"].tags is None  # the PUT sent none
        await (await ops.begin_delete(RG, "app-07", "fleet-job-a", **poll)).result()
        await ops.begin_create_or_update(RG, "app-07", "fleet-job-b", mine, polling=False)
        got = await ops.get_by_virtual_machine(RG, "app-07", "fleet-job-b")
        assert got.tags == FLEET_TAGS  # stored and returned exactly as sent
        with pytest.raises(HttpResponseError) as full:
            await ops.begin_create_or_update(RG, "app-08", "fleet-job-a", mine, polling=False)
        assert "(max=25, current=25)" in full.value.error.message
    truth = await simkit.ground_truth(emu, "runcommands")
    [deleted] = truth["deleted"]
    assert (deleted["name"], deleted["created_by"], deleted["deleted_by"]) == (
        "fleet-job-a",
        "operator",
        "operator",
    )
    on_app07 = [r for r in truth["run_commands"] if r["target"].endswith("/app-07")]
    assert len(on_app07) == 25
    others = [r for r in on_app07 if r["created_by"] in ("backup-tool", "cmdb-sync")]
    assert len(others) == 24 and all(r["preexisting"] and not r["fleet_marked"] for r in others)
    [ours] = [r for r in on_app07 if r["name"] == "fleet-job-b"]
    assert ours["fleet_marked"] and ours["created_by"] == "operator"


# -- in flight, runAsUser -----------------------------------------------------------------------


def _azure_s(emu: Emulator, when: Any) -> float:
    return (when - emu.world.clock.utc(0.0)).total_seconds()


async def test_in_flight_view_as_the_linux_handler_sends_it(emu: Emulator) -> None:
    """exitCode 0 and "Execution in progress" while Running (commandProcessor.go), and an output
    tail that only moves on the handler's 15-second ticks (cmds.go), until the final view."""
    clock = emu.world.clock
    ticks_seen: set[int] = set()
    async with simkit.clients(emu) as arm:
        ops = _ops(arm, emu)
        await ops.begin_create_or_update(RG, "app-06", "chatty", _body(), polling=False)
        while True:
            before = clock.now()
            rc = await ops.get_by_virtual_machine(RG, "app-06", "chatty", expand="instanceView")
            after, view = clock.now(), rc.instance_view
            if view.execution_state != "Running":
                if view.execution_state == "Succeeded":
                    break
                await anyio.sleep(0.05)
                continue
            assert (view.exit_code, view.execution_message) == (0, "Execution in progress")
            start = _azure_s(emu, view.start_time)
            tick = math.floor((before - start) / 15)
            if tick == math.floor((after - start) / 15):  # the read did not straddle a tick
                assert view.output == LINES[: len(LINES) * 15 * tick // 90]
                ticks_seen.add(tick)
            await anyio.sleep(0.1)
    assert view.output == LINES and view.execution_message == "Execution completed"
    assert len(ticks_seen) >= 3  # several refreshes seen, each showing only its tick's tail


async def test_unknown_run_as_user_fails_with_the_handlers_error(emu: Emulator) -> None:
    async with simkit.clients(emu) as arm:
        ops = _ops(arm, emu)
        for name, user in (("as-bob", "bob"), ("as-azureuser", "azureuser")):
            await ops.begin_create_or_update(
                RG, "app-01", name, _body(runAsUser=user), polling=False
            )

        async def read(name: str) -> Any:
            rc = await ops.get_by_virtual_machine(RG, "app-01", name, expand="instanceView")
            return rc.instance_view

        bob = await _until(lambda: read("as-bob"), lambda v: v.execution_state != "Pending")
        ok = await _until(lambda: read("as-azureuser"), lambda v: v.execution_state == "Succeeded")
    assert (bob.execution_state, bob.exit_code) == ("Failed", -102)
    assert "Failed to lookup RunAs user 'bob'. Looks like user does not exist." in (
        bob.execution_message
    )
    assert ok.exit_code == 0
    inventory = await simkit.ground_truth(emu, "inventory")
    [app01] = [t for t in inventory["targets"] if t["name"] == "app-01"]
    assert app01["run_as_users"] == ["root", "azureuser"]


# -- identical PUTs, dropped connections, PUT counts --------------------------------------------


async def _settings(emu: Emulator, change: dict[str, Any]) -> dict[str, Any]:
    async with simkit.raw(emu, token=None) as s, s.put("/_sim/settings", json=change) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def _faults(emu: Emulator, faults: dict[str, Any]) -> None:
    async with simkit.raw(emu, token=None) as s, s.put("/_sim/faults", json=faults) as r:
        assert r.status == 200, await r.text()


RESET_RC_PUTS = {
    "connection_resets": {
        "rate": 1.0,
        "after_processing": 1.0,
        "methods": ["PUT"],
        "operations": ["*RunCommands_CreateOrUpdate"],
    }
}


@pytest.mark.parametrize("reruns", [False, True])
async def test_sdk_resends_a_processed_put_and_identical_puts_may_rerun(
    emu: Emulator, reruns: bool
) -> None:
    """Every run-command PUT is processed, then its connection dropped: azure-core re-sends it
    (3 read retries). If Azure treats an identical PUT as a no-op (azure-sdk-for-net#47307) the
    script runs once; under the reading of azure-compute-docs PR #178 it runs again. Ground
    truth counts the PUT requests as well as the executions."""
    settings = await _settings(emu, {"identical_put_reruns": reruns})
    assert settings["identical_put_reruns"] is reruns
    await _faults(emu, RESET_RC_PUTS)
    async with simkit.clients(emu, retries=True) as arm:
        ops = _ops(arm, emu)
        with pytest.raises((ServiceRequestError, ServiceResponseError)):  # as aiohttp reports it
            await ops.begin_create_or_update(RG, "app-02", "fleet-once", _body(), polling=False)
        # other operations are not reset
        assert (await ops.get_by_virtual_machine(RG, "app-02", "fleet-once")).name
        await _faults(emu, {})
        ok = await ops.begin_create_or_update(RG, "app-03", "fleet-once", _body(), polling=False)
        assert (await ok.result()).name == "fleet-once"
    await anyio.sleep(emu.world.clock.to_wall(10) + 0.2)  # every execution has ended
    truth = await simkit.ground_truth(emu, "executions")
    stats = await simkit.ground_truth(emu, "stats")
    sent = stats["faults"]["reset_after"]  # every attempt the SDK made was processed, then reset
    assert sent >= 2
    app02 = simkit.vm_path(emu.info.subscriptions[0], RG, "app-02")
    app03 = simkit.vm_path(emu.info.subscriptions[0], RG, "app-03")
    assert truth["put_requests_per_target"] == {
        app02: {"fleet-once": sent},
        app03: {"fleet-once": 1},
    }
    assert truth["puts_applied_per_target"] == truth["put_requests_per_target"]
    runs = truth["executed_per_target"][app02]["fleet-once"]
    if reruns:
        assert runs >= 2  # the script ran more than once on app-02
        assert truth["executions_per_target"][app02] == sent
    else:
        assert runs == 1 and truth["executions_per_target"][app02] == 1


async def test_settings_are_validated(emu: Emulator) -> None:
    async with simkit.raw(emu, token=None) as s:
        async with s.put("/_sim/settings", json={"max_per_vm": 0}) as r:
            assert r.status == 400 and "max_per_vm" in (await r.json())["error"]["message"]
        async with s.put("/_sim/settings", json={"bogus": 1}) as r:
            assert r.status == 400
        async with s.get("/_sim/settings") as r:
            assert (await r.json())["max_per_vm"] == 25


async def test_shipped_job_scripts_get_fitting_outputs() -> None:
    """The shipped patch job through the SDK on the small fleet: package updates, exit 100
    ("reboot required") on some VMs; an unknown script gets the generic simulated echo."""
    patch = (simkit.ROOT / "configs" / "jobs" / "scripts" / "patch.sh").read_text()
    names = [f"app-{i:02d}" for i in range(1, 12)]
    async with Emulator(simkit.profile("small"), time_scale=50) as emu, simkit.clients(emu) as arm:
        ops = _ops(arm, emu)
        for name in names:
            await ops.begin_create_or_update(RG, name, "fleet-patch", _body(patch), polling=False)
        await ops.begin_create_or_update(RG, "app-01", "fleet-echo", _body("uptime"), polling=False)

        async def view(vm: str, rc: str) -> Any:
            got = await ops.get_by_virtual_machine(RG, vm, rc, expand="instanceView")
            return got.instance_view

        def ended(v: Any) -> bool:
            return v.execution_state in ("Succeeded", "Failed")

        views = {n: await _until(lambda n=n: view(n, "fleet-patch"), ended) for n in names}
        echo = await _until(lambda: view("app-01", "fleet-echo"), ended)
    codes = {n: v.exit_code for n, v in views.items()}
    assert set(codes.values()) <= {0, 1, 100} and 0 in codes.values()
    no_space = ("You don't have enough free space", "more space on the / filesystem")  # apt, dnf
    # the disk is full: the package manager fails and patch.sh says so with exit 1 (not 100,
    # apt-get's own status, which the job counts as "patched, reboot required")
    assert codes["app-03"] == 1 and any(m in views["app-03"].error for m in no_space)
    assert [n for n, code in codes.items() if code == 1] == ["app-03"]
    for v in (v for name, v in views.items() if name != "app-03"):
        assert "Calculating upgrade..." in v.output or "Complete!" in v.output  # apt or dnf
        if v.exit_code == 100:
            assert v.output.endswith("patched; REBOOT REQUIRED\n")
    assert echo.output.startswith("[simulated] app-01: run command 'fleet-echo'")
    assert "script: uptime" in echo.output


async def test_timeouts_on_windows_and_no_timeout_at_all() -> None:
    """Windows reports a killed script as TimedOut (real-behaviour.md); timeoutInSeconds 0 sets
    no handler timeout, so a long script keeps running past any limit (Linux exec.go)."""
    windows = simkit.profile(
        "small",
        defaults={"os": "windows"},
        script={"pending": _fixed(1.0), "duration": _fixed(100_000.0)},
        throttling={"enabled": False},
    )
    async with Emulator(windows, time_scale=50) as emu, simkit.clients(emu) as arm:
        ops = _ops(arm, emu)
        for name, timeout in (("limited", 30), ("unlimited", 0)):
            body = _body("Get-Date", timeoutInSeconds=timeout)
            await ops.begin_create_or_update(RG, "app-01", name, body, polling=False)

        async def view(name: str) -> Any:
            rc = await ops.get_by_virtual_machine(RG, "app-01", name, expand="instanceView")
            return rc.instance_view

        limited = await _until(
            lambda: view("limited"), lambda v: v.execution_state not in ("Pending", "Running")
        )
        unlimited = await view("unlimited")
    assert (limited.execution_state, limited.exit_code) == ("TimedOut", -1)
    assert (unlimited.execution_state, unlimited.exit_code) == ("Running", None)  # no exit code

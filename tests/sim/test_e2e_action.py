"""End to end: the action run command (``POST .../runCommand``) on Linux and Windows VMs and
Uniform instances, and the built-in command catalog, through the real azure-mgmt-compute async
client (raw HTTPS where a test needs exact statuses on a hand-stepped clock).

Delays are pinned (sigma 0): the agent picks a script up after 2 s and it runs 5 s unless its
outcome says otherwise; the operation lasts at least 20 s (``action.min_duration``).
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from fleet.sim.clock import ManualClock
from fleet.sim.emulator import Emulator
from fleet.sim.profile import Profile, parse_profile
from tests import simkit

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

SUB = "00000000-0000-4000-8000-00000000000a"
RG = "rg-act"
API = {"api-version": simkit.COMPUTE_API}
LONG_OUTPUT = "".join(f"line {i:05d} of a chatty script ...................\n" for i in range(500))


def _fixed(seconds: float) -> dict[str, float]:
    return {"median": seconds, "sigma": 0.0, "min": seconds, "max": seconds}


def _profile(**changes: Any) -> Profile:
    data: dict[str, Any] = {
        "name": "action",
        "seed": 3,
        "subscriptions": [
            {
                "id": SUB,
                "name": "sim-action",
                "resource_groups": [
                    {
                        "name": RG,
                        "location": "eastus",
                        "vms": [
                            {"count": 5, "name": "lin-{i}", "os": "linux"},
                            {"count": 3, "name": "win-{i}", "os": "windows"},
                        ],
                        "scale_sets": [
                            {"name": "vmss-act", "mode": "Uniform", "capacity": 2, "os": "linux"},
                            {"name": "vmss-fx", "mode": "Flexible", "capacity": 1, "os": "linux"},
                        ],
                    }
                ],
            }
        ],
        "overrides": [
            {"names": ["lin-2", "win-2"], "outcome": "failing"},
            {"names": ["lin-3"], "outcome": "chatty"},
            {"names": ["lin-4"], "outcome": "medium"},
            {"names": ["win-3"], "outcome": "endless"},
            {"names": ["lin-5"], "power_state": "deallocated"},
        ],
        "script": {
            "pending": _fixed(2),
            "duration": _fixed(5),
            "outcomes": [
                {"name": "ok", "weight": 1.0, "output": "hello from {vm_name}\n"},
                {
                    "name": "failing",
                    "weight": 0.0,
                    "exit_code": 3,
                    "output": "checking\n",
                    "error": "boom\n",
                },
                {"name": "chatty", "weight": 0.0, "output": LONG_OUTPUT},
                {"name": "medium", "weight": 0.0, "duration": _fixed(300)},
                {"name": "endless", "weight": 0.0, "duration": _fixed(100_000)},
            ],
        },
        "restart": {"operation": _fixed(5), "boot": _fixed(30), "agent": _fixed(20)},
        "throttling": {"enabled": False},
    }
    data.update(changes)
    return parse_profile(data, source="action-test")


PROFILE = _profile()


def _vm_path(vm: str) -> str:
    return simkit.vm_path(SUB, RG, vm)


def _body(*lines: str, command: str = "RunShellScript", **extra: Any) -> dict[str, Any]:
    return {"commandId": command, "script": list(lines), **extra}


async def _read_json(s: Any, url: str) -> tuple[int, Any]:
    async with s.get(url) as r:
        text = await r.text()
        return r.status, (json.loads(text) if text else None)


async def _post(s: Any, vm: str, body: dict[str, Any]) -> tuple[int, Any, str | None]:
    async with s.post(_vm_path(vm) + "/runCommand", params=API, json=body) as r:
        text = await r.text()
        return r.status, (json.loads(text) if text else None), r.headers.get("Azure-AsyncOperation")


async def test_linux_reports_success_with_both_streams_even_when_the_script_fails() -> None:
    """Azure/azure-cli#14425: one ProvisioningState/succeeded status, whatever the exit code;
    the exit code only reaches the caller through its own marker line."""
    async with Emulator(PROFILE, time_scale=50) as emu, simkit.clients(emu) as arm:
        vms = arm.compute(SUB).virtual_machines
        failing = await vms.begin_run_command(
            RG, "lin-2", _body("check_disk", 'echo "__RC__$?"'), polling_interval=0.05
        )
        ok = await vms.begin_run_command(RG, "lin-1", _body("uptime"), polling_interval=0.05)
        with anyio.fail_after(20):
            failed, fine = await failing.result(), await ok.result()
        truth = await simkit.ground_truth(emu, "executions")
    [status] = failed.value
    assert (status.code, status.level, status.display_status) == (
        "ProvisioningState/succeeded",
        "Info",
        "Provisioning succeeded",
    )
    assert status.message == "Enable succeeded: \n[stdout]\nchecking\n__RC__3\n\n[stderr]\nboom\n"
    assert fine.value[0].message == "Enable succeeded: \n[stdout]\nhello from lin-1\n\n[stderr]\n"
    rows = {r["target"].rsplit("/", 1)[-1]: r for r in truth["executions"]}
    assert (
        rows["lin-2"]["kind"] == "action"
        and rows["lin-2"]["run_command"] == "action:RunShellScript"
    )
    assert (rows["lin-2"]["state"], rows["lin-2"]["exit_code"]) == ("Failed", 3)
    assert truth["actions"]["executions"] == 2 and truth["execution_count"] == 2
    assert truth["executed_per_target"][rows["lin-1"]["target"]] == {"action:RunShellScript": 1}


async def test_windows_reports_two_streams_and_no_exit_code() -> None:
    async with Emulator(PROFILE, time_scale=50) as emu, simkit.clients(emu) as arm:
        vms = arm.compute(SUB).virtual_machines
        marker = 'Write-Output "__RC__$LASTEXITCODE"'
        body = _body("Test-Disk", marker, command="RunPowerShellScript")
        poller = await vms.begin_run_command(RG, "win-2", body, polling_interval=0.05)
        with anyio.fail_after(20):
            result = await poller.result()
        with pytest.raises(HttpResponseError) as wrong_os:
            await vms.begin_run_command(RG, "win-1", _body("ls"), polling=False)
    out, err = result.value
    assert (out.code, out.message) == ("ComponentStatus/StdOut/succeeded", "checking\n__RC__3")
    assert (err.code, err.message) == ("ComponentStatus/StdErr/succeeded", "boom")
    assert "exit" not in json.dumps(result.as_dict()).lower()
    assert wrong_os.value.status_code == 409 and wrong_os.value.error.code == "Conflict"
    assert "OS type 'Linux' does not match the target OS Windows" in str(wrong_os.value)


async def test_one_at_a_time_per_vm() -> None:
    clock = ManualClock()
    async with (
        Emulator(PROFILE, clock=clock) as emu,
        simkit.raw(emu) as s,
        simkit.clients(emu) as arm,
    ):
        status, _, url = await _post(s, "lin-4", _body("sleep 300"))
        assert status == 202 and url is not None
        clock.advance(100)
        with pytest.raises(HttpResponseError) as busy:
            await arm.compute(SUB).virtual_machines.begin_run_command(
                RG, "lin-4", _body("uptime"), polling=False
            )
        managed = {"location": "eastus", "properties": {"source": {"script": "uptime"}}}
        async with s.put(_vm_path("lin-4") + "/runCommands/beside", params=API, json=managed) as r:
            assert r.status == 201  # managed run commands use another extension
        clock.advance(300 - 100 + 2)
        assert (await _read_json(s, url))[1]["status"] == "Succeeded"
        assert (await _post(s, "lin-4", _body("uptime")))[0] == 202
        truth = await simkit.ground_truth(emu, "executions")
    assert busy.value.status_code == 409 and busy.value.error.code == "Conflict"
    assert busy.value.error.message == (
        "Run command extension execution is in progress. Please wait for completion before "
        "invoking a run command."
    )
    assert truth["actions"]["conflicts"] == 1
    assert sorted(r["kind"] for r in truth["executions"]) == ["action", "action", "managed"]


async def test_the_time_limit_fails_the_operation_and_frees_the_vm() -> None:
    clock = ManualClock()
    async with Emulator(PROFILE, clock=clock) as emu, simkit.raw(emu) as s:
        status, _, url = await _post(
            s, "win-3", _body("Wait-Forever", command="RunPowerShellScript")
        )
        assert status == 202 and url is not None
        clock.advance(2 + 5400 - 1)
        assert (await _read_json(s, url))[1]["status"] == "InProgress"
        busy = await _post(s, "win-3", _body("x", command="RunPowerShellScript"))
        clock.advance(1)
        _, doc = await _read_json(s, url)
        again = await _post(s, "win-3", _body("x", command="RunPowerShellScript"))
    assert busy[0] == 409
    assert doc["status"] == "Failed" and doc["error"]["code"] == "VMExtensionProvisioningTimeout"
    assert "'RunCommandWindows' has timed out" in doc["error"]["message"]
    assert again[0] == 202


async def test_sdk_poller_raises_on_the_time_limit() -> None:
    profile = _profile(action={"max_duration": 30})
    async with Emulator(profile, time_scale=50) as emu, simkit.clients(emu) as arm:
        poller = await arm.compute(SUB).virtual_machines.begin_run_command(
            RG, "lin-4", _body("sleep 300"), polling_interval=0.05
        )
        with anyio.fail_after(20), pytest.raises(HttpResponseError) as failed:
            await poller.result()
    assert "VMExtensionProvisioningTimeout" in str(failed.value)


async def test_output_keeps_the_last_4096_bytes_of_each_stream() -> None:
    assert len(LONG_OUTPUT.encode()) > 4 * 4096
    async with Emulator(PROFILE, time_scale=50) as emu, simkit.clients(emu) as arm:
        poller = await arm.compute(SUB).virtual_machines.begin_run_command(
            RG, "lin-3", _body("chatter"), polling_interval=0.05
        )
        with anyio.fail_after(20):
            [status] = (await poller.result()).value
    stdout = status.message.removeprefix("Enable succeeded: \n[stdout]\n").split("\n[stderr]\n")[0]
    assert stdout.encode() == LONG_OUTPUT.encode()[-4096:]


async def test_the_operation_lasts_at_least_20_seconds() -> None:
    clock = ManualClock()
    async with Emulator(PROFILE, clock=clock) as emu, simkit.raw(emu) as s:
        _, _, url = await _post(s, "lin-1", _body("true"))
        assert url is not None
        clock.advance(15)  # the 7 s script is long done
        early = await _read_json(s, url)
        monitor = await _read_json(s, url + "&monitor=true")
        clock.advance(5)
        _, doc = await _read_json(s, url)
        status, result = await _read_json(s, url + "&monitor=true")
    assert early[1]["status"] == "InProgress" and monitor == (202, None)
    assert doc["status"] == "Succeeded" and doc["endTime"] == simkit_iso(clock, 20)
    assert doc["properties"]["output"] == result and status == 200
    assert result["value"][0]["message"].startswith("Enable succeeded: \n[stdout]\nhello")


def simkit_iso(clock: ManualClock, t: float) -> str:
    return clock.utc(t).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def test_scale_set_instances() -> None:
    async with Emulator(PROFILE, time_scale=50) as emu, simkit.clients(emu) as arm:
        compute = arm.compute(SUB)
        poller = await compute.virtual_machine_scale_set_vms.begin_run_command(
            RG, "vmss-act", "0", _body("uptime"), polling_interval=0.05
        )
        flex = [i async for i in compute.virtual_machine_scale_set_vms.list(RG, "vmss-fx")]
        member = await compute.virtual_machines.begin_run_command(
            RG, flex[0].instance_id, _body("uptime"), polling_interval=0.05
        )
        with pytest.raises(HttpResponseError) as flexible:
            await compute.virtual_machine_scale_set_vms.begin_run_command(
                RG, "vmss-fx", flex[0].instance_id, _body("uptime"), polling=False
            )
        with anyio.fail_after(20):
            [status] = (await poller.result()).value
            [flex_status] = (await member.result()).value
    assert status.message.startswith("Enable succeeded: \n[stdout]\nhello from vmss-act_0")
    assert flex_status.code == "ProvisioningState/succeeded"
    assert flexible.value.status_code == 400


async def test_refusals() -> None:
    async with Emulator(PROFILE, time_scale=50) as emu, simkit.clients(emu) as arm:
        vms = arm.compute(SUB).virtual_machines
        with pytest.raises(ResourceNotFoundError) as unknown:
            await vms.begin_run_command(RG, "lin-1", {"commandId": "RunBash"}, polling=False)
        with pytest.raises(HttpResponseError) as stopped:
            await vms.begin_run_command(RG, "lin-5", _body("uptime"), polling=False)
        with pytest.raises(HttpResponseError) as malformed:
            await vms.begin_run_command(RG, "lin-1", {"commandId": "RunShellScript", "script": 7})
        truth = await simkit.ground_truth(emu, "executions")
    assert unknown.value.error.code == "NotFound"
    assert unknown.value.error.message == "The entity was not found in this Azure location."
    assert stopped.value.status_code == 409 and stopped.value.error.code == "OperationNotAllowed"
    assert malformed.value.status_code == 400
    assert truth["executions"] == []


async def test_a_restart_cuts_a_running_script_and_holds_new_ones() -> None:
    clock = ManualClock()
    async with Emulator(PROFILE, clock=clock) as emu, simkit.raw(emu) as s:
        _, _, cut = await _post(s, "lin-4", _body("sleep 300"))
        _, _, early = await _post(s, "lin-1", _body("uptime"))  # done at 20, before the restart
        clock.advance(10)
        for vm in ("lin-4", "lin-1"):
            async with s.post(_vm_path(vm) + "/restart", params=API) as r:
                assert r.status == 202
        assert (await _post(s, "lin-4", _body("uptime")))[0] == 409  # still its operation
        clock.advance(45 - 10)  # running again (40), agent Not Ready until 60
        _, _, held = await _post(s, "lin-1", _body("uptime"))
        clock.advance(59 - 45)
        before = [(await _read_json(s, url))[1]["status"] for url in (cut, held)]
        clock.advance(1)
        _, cut_doc = await _read_json(s, cut)
        clock.advance(67 - 60)
        _, held_doc = await _read_json(s, held)
        truth = await simkit.ground_truth(emu, "executions")
    assert cut is not None and early is not None and held is not None
    assert before == ["InProgress", "InProgress"]
    [status] = cut_doc["properties"]["output"]["value"]
    assert status["message"] == "Enable succeeded: Last script execution didn't finish."
    assert held_doc["status"] == "Succeeded"  # started at 62 (agent back at 60 + 2), ran 5 s
    assert held_doc["endTime"] == simkit_iso(clock, 67)
    states = [r["state"] for r in truth["executions"]]
    assert states == ["Interrupted", "Succeeded", "Succeeded"]


async def test_throttled_by_update_vm_even_when_refused() -> None:
    """Every POST spends an Update VM token, the 409s too: the 13th in a minute is a 429."""
    clock = ManualClock()
    throttled = _profile(throttling={"enabled": True})
    async with Emulator(throttled, clock=clock) as emu, simkit.raw(emu) as s:
        statuses = []
        for _ in range(13):
            async with s.post(_vm_path("lin-4") + "/runCommand", params=API, json=_body("x")) as r:
                statuses.append(r.status)
                if r.status == 202:
                    first = dict(r.headers)
        path = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute"
        path += "/virtualMachineScaleSets/vmss-act/virtualMachines/1/runCommand"
        async with s.post(path, params=API, json=_body("x")) as r:
            instance = dict(r.headers)
    assert statuses == [202] + [409] * 11 + [429]
    assert "UpdateVM" in first["x-ms-ratelimit-remaining-resource"]
    assert "x-ms-ratelimit-remaining-subscription-writes" in first
    assert "UpdateVMSSVMs" in instance["x-ms-ratelimit-remaining-resource"]


async def test_exec_mode_runs_the_script_for_real(tmp_path: Any) -> None:
    profile = _profile(script={**PROFILE.script.model_dump(), "exec": {"enabled": True}})
    async with (
        Emulator(profile, time_scale=50, workdir=tmp_path) as emu,
        simkit.clients(emu) as arm,
    ):
        body = _body(
            'echo "$GREETING $1"; echo oops >&2; false',
            'echo "RC=$?"',
            parameters=[{"name": "GREETING", "value": "hi"}, {"name": "", "value": "there"}],
        )
        poller = await arm.compute(SUB).virtual_machines.begin_run_command(
            RG, "lin-2", body, polling_interval=0.05
        )
        with anyio.fail_after(20):
            [status] = (await poller.result()).value
    assert status.message == "Enable succeeded: \n[stdout]\nhi there\nRC=1\n\n[stderr]\noops\n"


async def test_catalog_list_and_get() -> None:
    async with Emulator(PROFILE, time_scale=50, page_size=4) as emu, simkit.clients(emu) as arm:
        catalog_ops = arm.compute(SUB).virtual_machine_run_commands
        listed = [c async for c in catalog_ops.list("eastus")]
        doc = await catalog_ops.get("westeurope", "ifconfig")
        with pytest.raises(ResourceNotFoundError) as unknown:
            await catalog_ops.get("eastus", "RunBash")
        with pytest.raises(HttpResponseError) as nowhere:
            await catalog_ops.get("atlantis", "ifconfig")
        async with simkit.raw(emu) as s:
            path = f"/subscriptions/{SUB}/providers/Microsoft.Compute/locations/eastus/runCommands"
            async with s.get(path, params=API) as r:
                first_page, headers = await r.json(), dict(r.headers)
        stats = await simkit.ground_truth(emu, "stats")
    by_id = {c.id: c for c in listed}
    assert len(listed) == len(by_id) >= 18  # walked every page
    assert {i: by_id[i].os_type for i in ("RunShellScript", "ifconfig")} == {
        "RunShellScript": "Linux",
        "ifconfig": "Linux",
    }
    for windows in ("RunPowerShellScript", "IPConfig", "EnableRemotePS", "SetRDPPort"):
        assert by_id[windows].os_type == "Windows" and by_id[windows].label
    assert doc.script == ['ifconfig "$@"'] and doc.parameters[0].name == "arguments"
    assert unknown.value.error.message == "The entity was not found in this Azure location."
    assert (
        nowhere.value.status_code == 400 and nowhere.value.error.code == "NoRegisteredProviderFound"
    )
    assert len(first_page["value"]) == 4 and "nextLink" in first_page
    assert "x-ms-ratelimit-remaining-subscription-reads" in headers
    assert "x-ms-ratelimit-remaining-resource" not in headers  # no Compute policy lists it
    assert stats["requests"]["RunCommandCatalog_List"] >= 5


async def test_instance_view_reports_the_extension() -> None:
    """What a caller that lost the POST's operation can still read: the VM agent's last report
    of the run-command extension (fleet.sim.action_output)."""
    clock = ManualClock()
    async with (
        Emulator(PROFILE, clock=clock) as emu,
        simkit.raw(emu) as s,
        simkit.clients(emu) as arm,
    ):
        compute = arm.compute(SUB)
        assert (await compute.virtual_machines.instance_view(RG, "lin-2")).extensions is None
        await _post(s, "lin-2", _body("check", 'echo "RC=$?"'))
        await _post(s, "win-2", _body("Check", command="RunPowerShellScript"))
        clock.advance(10)
        running = (await compute.virtual_machines.instance_view(RG, "lin-2")).extensions
        clock.advance(10)
        linux = (await compute.virtual_machines.instance_view(RG, "lin-2")).extensions
        vm = await compute.virtual_machines.get(RG, "win-2", expand="instanceView")
        windows = vm.instance_view.extensions
    [ext] = running
    assert (ext.name, ext.type) == ("RunCommandLinux", "Microsoft.CPlat.Core.RunCommandLinux")
    assert (ext.statuses[0].code, ext.statuses[0].display_status) == (
        "ProvisioningState/transitioning",
        "Transitioning",
    )
    [done] = linux[0].statuses
    assert done.code == "ProvisioningState/succeeded"
    assert done.message == "Enable succeeded: \n[stdout]\nchecking\nRC=3\n\n[stderr]\nboom\n"
    [win] = windows
    assert win.name == "RunCommandWindows" and win.statuses[0].code == "ProvisioningState/succeeded"
    assert [(x.code, x.message) for x in win.substatuses] == [
        ("ComponentStatus/StdOut/succeeded", "checking"),
        ("ComponentStatus/StdErr/succeeded", "boom"),
    ]


async def test_a_run_the_agent_has_not_picked_up_is_not_reported_on_the_extension() -> None:
    """The extension status is the agent's last report: a run still waiting for the agent
    (Pending) shows the previous run, and one a dead agent never gets shows nothing new."""
    dead = {"names": ["lin-3"], "agent": "not_ready"}
    clock = ManualClock()
    async with (
        Emulator(_profile(overrides=[*PROFILE.overrides, dead]), clock=clock) as emu,
        simkit.raw(emu) as s,
        simkit.clients(emu) as arm,
    ):
        vms = arm.compute(SUB).virtual_machines
        await _post(s, "lin-1", _body("echo first"))
        await _post(s, "lin-3", _body("echo never"))
        clock.advance(30)  # the first run is done
        await _post(s, "lin-1", _body("echo second"))
        clock.advance(1)  # the agent picks it up after 2 s
        waiting = (await vms.instance_view(RG, "lin-1")).extensions
        clock.advance(2)
        picked = (await vms.instance_view(RG, "lin-1")).extensions
        never = (await vms.instance_view(RG, "lin-3")).extensions
    assert waiting[0].statuses[0].code == "ProvisioningState/succeeded"  # the first run's
    assert picked[0].statuses[0].code == "ProvisioningState/transitioning"
    assert never is None


async def test_outputs_follow_the_script_and_ground_truth_has_both_kinds() -> None:
    """Action runs get the same script behaviours as managed run commands: the shipped patch job
    prints its updates and exits 0 or 100 (seen through the marker line); an unknown script
    the generic echo, naming the parameters it was given. ``/_sim/executions`` keeps the managed
    rows with their PUT counts beside the action rows and their summary."""
    script = {**PROFILE.script.model_dump(mode="json"), "unknown": "generic"}
    clock = ManualClock()
    patch = (simkit.ROOT / "configs" / "jobs" / "scripts" / "patch.sh").read_text()
    async with Emulator(_profile(script=script), clock=clock) as emu, simkit.raw(emu) as s:
        _, _, patched = await _post(s, "lin-1", _body(*patch.splitlines(), 'echo "__RC__$?"'))
        params = [{"name": "SERVICE", "value": "nginx"}]
        _, _, echoed = await _post(s, "lin-3", _body("systemctl restart x", parameters=params))
        managed = {"location": "eastus", "properties": {"source": {"script": "uptime"}}}
        for _ in range(2):  # identical: applied twice, run once
            async with s.put(_vm_path("lin-1") + "/runCommands/m", params=API, json=managed) as r:
                assert r.status in (200, 201)
        clock.advance(30)
        docs = [(await _read_json(s, url))[1] for url in (patched, echoed)]
        truth = await simkit.ground_truth(emu, "executions")
    out = [doc["properties"]["output"]["value"][0]["message"] for doc in docs]
    rows = {r["target"].rsplit("/", 1)[-1]: r for r in truth["executions"] if r["kind"] == "action"}
    patch_row = rows["lin-1"]
    assert patch_row["outcome"].startswith("patch/")
    assert f"__RC__{patch_row['exit_code']}\n" in out[0] and patch_row["exit_code"] in (0, 100)
    done = "REBOOT REQUIRED" if patch_row["exit_code"] == 100 else "no reboot required"
    assert f"lin-1: patched; {done}" in out[0]
    assert "[simulated] parameters: SERVICE" in out[1] and "nginx" not in out[1]
    assert "script: systemctl restart x" in out[1] and rows["lin-3"]["outcome"] == "generic/chatty"
    lin1 = _vm_path("lin-1")
    assert truth["put_requests_per_target"] == {lin1: {"m": 2}}
    assert truth["puts_applied_per_target"] == {lin1: {"m": 2}}
    assert sorted(r["kind"] for r in truth["executions"]) == ["action", "action", "managed"]
    assert truth["actions"]["executions"] == 2 and truth["execution_count"] == 3
    assert truth["executed_per_target"][lin1] == {"action:RunShellScript": 1, "m": 1}


async def test_a_settings_change_of_the_dead_agent_delay_reaches_action_runs() -> None:
    """``PUT /_sim/settings {"agent_fail_after_s": N}`` changes the one delay for both kinds of
    run command created afterwards; an action run already waiting keeps its own."""
    overrides = [*PROFILE.model_dump(mode="json")["overrides"]]
    dead = {"names": ["lin-1", "win-1"], "agent": "not_ready"}
    profile = _profile(overrides=[*overrides, dead])
    clock = ManualClock()
    async with Emulator(profile, clock=clock) as emu, simkit.raw(emu) as s:
        _, _, before = await _post(s, "lin-1", _body("uptime"))
        change = {"agent_fail_after_s": 50}
        async with simkit.raw(emu, token=None) as c, c.put("/_sim/settings", json=change) as r:
            assert r.status == 200
        _, _, after = await _post(s, "win-1", _body("Get-Date", command="RunPowerShellScript"))
        clock.advance(50)
        docs = [(await _read_json(s, url))[1] for url in (before, after)]
    assert docs[0]["status"] == "InProgress"  # created before the change: 1522 s
    assert docs[1]["status"] == "Failed"
    assert docs[1]["error"]["code"] == "VMAgentStatusCommunicationError"

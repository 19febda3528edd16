"""End to end: VM restarts (``POST .../restart`` for VMs, Uniform instances and scale sets)
through the real azure-mgmt-compute async client against an in-process emulator.

Most tests step a ``ManualClock`` by hand, so every state is read at an exact Azure-second and
nothing depends on machine speed; the pollers' own test runs on a scaled real clock.
Timeline of the profile (sigma 0): operation 5 s, boot 30 s, agent 20 s after boot; app-05
comes back slowly (agent 600 s), app-06's agent never comes back, app-07 stays stopped.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import anyio
import pytest
from azure.core.exceptions import HttpResponseError

from fleet.sim.clock import ManualClock
from fleet.sim.emulator import Emulator
from fleet.sim.profile import Profile, parse_profile
from tests import simkit

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

RG = "rg-small"
API = {"api-version": simkit.COMPUTE_API}
BOOT_S, AGENT_S, PICKUP_S = 30.0, 20.0, 10.0
STEPS = "".join(f"step {i:02d}\n" for i in range(20))  # 160 bytes over a 300 s run


def _fixed(seconds: float) -> dict[str, float]:
    return {"median": seconds, "sigma": 0.0, "min": seconds, "max": seconds}


PROFILE = simkit.profile(
    "small",
    restart={
        "operation": _fixed(5),
        "boot": _fixed(BOOT_S),
        "agent": _fixed(AGENT_S),
        "slow": {"names": ["app-05"], "agent": _fixed(600)},
        "agent_never": {"names": ["app-06"]},
        "stays_stopped": {"names": ["app-07"]},
    },
    script={
        "pending": _fixed(PICKUP_S),
        "duration": _fixed(10),
        "outcomes": [
            {"name": "ok", "weight": 1.0, "output": "ok from {vm_name}\n"},
            {"name": "long", "weight": 0.0, "duration": _fixed(300), "output": STEPS},
        ],
    },
    overrides=[
        {"names": ["app-12"], "power_state": "deallocated"},
        {"names": ["app-02"], "outcome": "long"},
    ],
    throttling={"enabled": False},
)


def _view(iv: Any) -> tuple[str, str, str | None]:
    """(provisioning code, power code, agent display status or None)."""
    codes = [s.code for s in iv.statuses]
    agent = iv.vm_agent.statuses[0].display_status if iv.vm_agent else None
    return codes[0], codes[1], agent


async def _read_json(s: Any, url: str) -> tuple[int, Any]:
    async with s.get(url) as r:
        text = await r.text()
        return r.status, (json.loads(text) if text else None)


def _vm_path(emu: Emulator, vm: str) -> str:
    return simkit.vm_path(emu.info.subscriptions[0], RG, vm)


async def test_vm_restart_states_over_time() -> None:
    clock = ManualClock()
    async with Emulator(PROFILE, clock=clock) as emu, simkit.clients(emu) as arm:
        vms = arm.compute(emu.info.subscriptions[0]).virtual_machines
        await vms.begin_restart(RG, "app-01", polling=False)
        seen = []
        for t in (0, 10, 35, 55):
            clock.advance(t - clock.now())
            seen.append(_view(await vms.instance_view(RG, "app-01")))
        vm = await vms.get(RG, "app-01")
    assert seen == [
        ("ProvisioningState/updating", "PowerState/starting", None),
        ("ProvisioningState/succeeded", "PowerState/starting", None),  # operation done first
        ("ProvisioningState/succeeded", "PowerState/running", "Not Ready"),
        ("ProvisioningState/succeeded", "PowerState/running", "Ready"),
    ]
    assert vm.provisioning_state == "Succeeded"


async def test_the_provisioning_status_time_moves_with_a_restart() -> None:
    """What tells a restart that arrived from one that did not, once its answer is lost: the
    ProvisioningState status's ``time`` is when that state last changed — the VM's creation,
    then the restart's start (Updating), then the end of its operation. Instances alike."""
    clock = ManualClock()
    async with Emulator(PROFILE, clock=clock) as emu, simkit.clients(emu) as arm:
        compute = arm.compute(emu.info.subscriptions[0])
        vms, insts = compute.virtual_machines, compute.virtual_machine_scale_set_vms
        clock.advance(100)
        before = (await vms.instance_view(RG, "app-01")).statuses[0].time
        other = (await vms.instance_view(RG, "app-02")).statuses[0].time
        await vms.begin_restart(RG, "app-01", polling=False)
        await insts.begin_restart(RG, "vmss-small", "0", polling=False)
        clock.advance(2)
        during = (await vms.instance_view(RG, "app-01")).statuses[0].time
        clock.advance(60)
        after = (await vms.instance_view(RG, "app-01")).statuses[0].time
        instance = (await insts.get_instance_view(RG, "vmss-small", "0")).statuses[0]
        untouched = (await vms.instance_view(RG, "app-02")).statuses[0].time
    assert before < clock.utc(0) and untouched == other  # created long before; never restarted
    assert during == clock.utc(100)  # the restart began
    assert after == clock.utc(105)  # its operation ended (5 s)
    assert (instance.code, instance.time) == ("ProvisioningState/succeeded", clock.utc(105))


async def test_sdk_pollers_for_vm_instance_and_scale_set() -> None:
    async with Emulator(PROFILE, time_scale=50) as emu, simkit.clients(emu) as arm:
        compute = arm.compute(emu.info.subscriptions[0])
        pollers = [
            await compute.virtual_machines.begin_restart(RG, "app-01", polling_interval=0.05),
            await compute.virtual_machine_scale_set_vms.begin_restart(
                RG, "vmss-small", "0", polling_interval=0.05
            ),
            await compute.virtual_machine_scale_sets.begin_restart(
                RG, "vmss-small", {"instanceIds": ["1", "2"]}, polling_interval=0.05
            ),
        ]
        with anyio.fail_after(20):
            for poller in pollers:
                assert await poller.result() is None
        iv = await compute.virtual_machine_scale_set_vms.get_instance_view(RG, "vmss-small", "1")
        assert iv.statuses[1].code in ("PowerState/starting", "PowerState/running")
        truth = await simkit.ground_truth(emu, "restarts")
        stats = await simkit.ground_truth(emu, "stats")
    counts = {
        "/".join(target.split("/")[-2:]): n for target, n in truth["restarts_per_target"].items()
    }
    assert counts == {
        "virtualMachines/app-01": 1,
        "virtualMachines/0": 1,
        "virtualMachines/1": 1,
        "virtualMachines/2": 1,
    }
    assert [r["via"] for r in truth["restarts"]] == ["vm", "vmss-vm", "vmss", "vmss"]
    assert stats["requests"]["Operations_Get"] >= 3


async def test_slow_and_never_returning_vms() -> None:
    clock = ManualClock()
    names = ("app-01", "app-05", "app-06", "app-07")
    async with (
        Emulator(PROFILE, clock=clock) as emu,
        simkit.clients(emu) as arm,
        simkit.raw(emu) as s,
    ):
        vms = arm.compute(emu.info.subscriptions[0]).virtual_machines
        for name in names[:3]:
            await vms.begin_restart(RG, name, polling=False)
        async with s.post(_vm_path(emu, "app-07") + "/restart", params=API) as r:
            url = r.headers["Azure-AsyncOperation"]
        clock.advance(60)
        early = {n: _view(await vms.instance_view(RG, n)) for n in names}
        clock.advance(640)
        late = {n: _view(await vms.instance_view(RG, n)) for n in names}
        assert (await _read_json(s, url))[1]["status"] == "InProgress"
        clock.advance(1680 - clock.now())
        status, doc = await _read_json(s, url)
        stopped = _view(await vms.instance_view(RG, "app-07"))
        with pytest.raises(HttpResponseError) as refused:
            await vms.begin_restart(RG, "app-07", polling=False)
        truth = await simkit.ground_truth(emu, "restarts")
    running = "PowerState/running"
    assert early["app-01"][1:] == (running, "Ready")
    assert early["app-05"][1:] == (running, "Not Ready")
    assert early["app-06"][1:] == (running, "Not Ready")
    assert early["app-07"][1:] == ("PowerState/stopped", None)
    assert late["app-05"][1:] == (running, "Ready")  # came back slowly
    assert late["app-06"][1:] == (running, "Not Ready")  # never
    assert (status, doc["status"]) == (200, "Canceled")
    assert doc["error"]["code"] == "InternalOperationError"
    assert stopped == ("ProvisioningState/failed", "PowerState/stopped", None)
    assert refused.value.status_code == 409
    assert "requires the VM to be running" in str(refused.value)
    rows = {r["target"].rsplit("/", 1)[-1]: r for r in truth["restarts"]}
    assert rows["app-05"]["kind"] == "slow" and rows["app-05"]["agent_ready_at"] == 630.0
    assert rows["app-06"]["agent_ready_at"] is None and rows["app-06"]["running_at"] == BOOT_S
    assert rows["app-07"]["running_at"] is None
    assert rows["app-07"]["operation_status"] == "Canceled"


async def test_restart_refused_when_not_running_or_unknown_instance(small_emu: Emulator) -> None:
    async with simkit.clients(small_emu) as arm:
        compute = arm.compute(small_emu.info.subscriptions[0])
        with pytest.raises(HttpResponseError) as deallocated:
            await compute.virtual_machines.begin_restart(RG, "app-12", polling=False)
        with pytest.raises(HttpResponseError) as unknown:
            await compute.virtual_machine_scale_sets.begin_restart(
                RG, "vmss-small", {"instanceIds": ["0", "9"]}, polling=False
            )
        flex = [i async for i in compute.virtual_machine_scale_set_vms.list(RG, "vmss-flex")]
        with pytest.raises(HttpResponseError) as flexible:
            await compute.virtual_machine_scale_set_vms.begin_restart(
                RG, "vmss-flex", flex[0].instance_id, polling=False
            )
    assert deallocated.value.status_code == 409
    assert deallocated.value.error.code == "OperationNotAllowed"
    assert unknown.value.status_code == 400
    assert "instanceId 9 is not an active" in str(unknown.value)
    assert flexible.value.status_code == 400
    assert (await simkit.ground_truth(small_emu, "restarts"))["restart_count"] == 0


async def test_a_restart_preempts_one_in_progress() -> None:
    clock = ManualClock()
    async with Emulator(PROFILE, clock=clock) as emu, simkit.raw(emu) as s:
        path = _vm_path(emu, "app-01") + "/restart"
        async with s.post(path, params=API) as r:
            assert r.status == 202 and await r.read() == b""
            first, first_monitor = r.headers["Azure-AsyncOperation"], r.headers["Location"]
        assert (await _read_json(s, first_monitor))[0] == 202
        clock.advance(2)
        async with s.post(path, params=API) as r:
            assert r.status == 202
            second = r.headers["Azure-AsyncOperation"]
        doc = (await _read_json(s, first))[1]
        assert (doc["status"], doc["error"]["code"]) == ("Canceled", "OperationPreempted")
        assert (await _read_json(s, first_monitor))[0] == 400  # a failed operation's monitor URL
        clock.advance(5)
        assert (await _read_json(s, second))[1]["status"] == "Succeeded"
        assert (await _read_json(s, second + "&monitor=true")) == (200, None)
        truth = await simkit.ground_truth(emu, "restarts")
    assert list(truth["restarts_per_target"].values()) == [2]
    assert [r["preempted"] for r in truth["restarts"]] == [True, False]


def _rc(script: str = "uptime", **props: Any) -> dict[str, Any]:
    return {"location": "eastus", "properties": {"source": {"script": script}, **props}}


ACTION = {"commandId": "RunShellScript", "script": ["uptime"]}


def _changed(**sections: dict[str, Any]) -> Profile:
    """PROFILE with keys of top-level sections changed (the rest of each section kept)."""
    data = PROFILE.model_dump(mode="json", exclude_unset=True)
    for name, keys in sections.items():
        data[name] = {**data.get(name, {}), **keys}
    return parse_profile(data, source="restart-test")


async def test_run_command_waits_for_the_agent_after_a_restart() -> None:
    clock = ManualClock()
    async with Emulator(PROFILE, clock=clock) as emu, simkit.clients(emu) as arm:
        compute = arm.compute(emu.info.subscriptions[0])
        rcs = compute.virtual_machine_run_commands
        await compute.virtual_machines.begin_restart(RG, "app-01", polling=False)
        clock.advance(10)  # still booting: extensions cannot be touched
        with pytest.raises(HttpResponseError) as booting:
            await rcs.begin_create_or_update(RG, "app-01", "early", _rc(), polling=False)
        clock.advance(BOOT_S + 5 - clock.now())  # running, agent Not Ready until 50
        await rcs.begin_create_or_update(RG, "app-01", "after", _rc(), polling=False)
        states = []
        for t in (45, 59, 61, 71):
            clock.advance(t - clock.now())
            got = await rcs.get_by_virtual_machine(RG, "app-01", "after", expand="instanceView")
            states.append(got.instance_view.execution_state)
        start = got.instance_view.start_time
    assert booting.value.status_code == 409 and booting.value.error.code == "OperationNotAllowed"
    # Pending until the agent is back (50), then the usual pickup delay (10)
    assert states == ["Pending", "Pending", "Running", "Succeeded"]
    assert start == clock.utc(BOOT_S + AGENT_S + PICKUP_S)


async def test_a_running_run_command_is_cut_off_by_a_restart() -> None:
    """The handler never reports a killed script again: its view stays Running (module
    docstring of fleet.sim.rc_restart); new work runs once the agent is back."""
    clock = ManualClock()
    async with Emulator(PROFILE, clock=clock) as emu, simkit.clients(emu) as arm:
        compute = arm.compute(emu.info.subscriptions[0])
        rcs = compute.virtual_machine_run_commands
        await rcs.begin_create_or_update(RG, "app-02", "long", _rc(), polling=False)
        clock.advance(PICKUP_S + 20)
        await compute.virtual_machines.begin_restart(RG, "app-02", polling=False)
        clock.advance(1000)  # long past its 300 s run time
        cut = await rcs.get_by_virtual_machine(RG, "app-02", "long", expand="instanceView")
        await rcs.begin_create_or_update(RG, "app-02", "next", _rc(), polling=False)
        clock.advance(PICKUP_S + 300 + 1)
        nxt = await rcs.get_by_virtual_machine(RG, "app-02", "next", expand="instanceView")
    assert cut.instance_view.execution_state == "Running" and cut.provisioning_state == "Creating"
    assert nxt.instance_view.execution_state == "Succeeded"


async def test_a_restart_killed_run_command_never_times_out() -> None:
    """Linux: the handler enforces ``timeoutInSeconds`` with ``exec.CommandContext`` in its own
    process, which the restart killed; after the reboot it skips the already-processed sequence
    number and reports nothing (run-command-handler-linux ``enablePre``). So the view keeps its
    last report, Running with the output of the last status tick, and never turns into the
    timeout's Failed / -1, which a run the restart spared does get."""
    clock = ManualClock()
    async with Emulator(PROFILE, clock=clock) as emu, simkit.clients(emu) as arm:
        compute = arm.compute(emu.info.subscriptions[0])
        rcs = compute.virtual_machine_run_commands
        await rcs.begin_create_or_update(  # 300 s script, killed at 60 s unless restarted
            RG, "app-02", "capped", _rc(timeoutInSeconds=60), polling=False
        )
        await rcs.begin_create_or_update(  # 10 s script, killed at 5 s
            RG, "app-01", "spared", _rc(timeoutInSeconds=5), polling=False
        )
        clock.advance(PICKUP_S + 20)  # app-02's tick at 15 s of its run reported "step 00"
        await compute.virtual_machines.begin_restart(RG, "app-02", polling=False)
        clock.advance(1000)
        capped = await rcs.get_by_virtual_machine(RG, "app-02", "capped", expand="instanceView")
        spared = await rcs.get_by_virtual_machine(RG, "app-01", "spared", expand="instanceView")
        truth = await simkit.ground_truth(emu, "executions")
    iv = capped.instance_view
    assert (iv.execution_state, iv.exit_code, iv.output) == ("Running", 0, "step 00\n")
    assert iv.execution_message == "Execution in progress" and iv.end_time is None
    assert capped.provisioning_state == "Creating"
    assert (spared.instance_view.execution_state, spared.instance_view.exit_code) == ("Failed", -1)
    states = {r["run_command"]: r["state"] for r in truth["executions"]}
    assert states == {"capped": "Running", "spared": "Failed"}


async def test_exec_mode_a_restart_kills_the_process_and_keeps_its_last_report(
    tmp_path: Any,
) -> None:
    """Exec mode: the real process dies with the VM and the view keeps the tail of the last
    status tick (15 s), not what the process wrote afterwards."""
    clock = ManualClock()
    profile = _changed(script={"exec": {"enabled": True}})
    async with (
        Emulator(profile, clock=clock, workdir=tmp_path) as emu,
        simkit.clients(emu) as arm,
    ):
        compute = arm.compute(emu.info.subscriptions[0])
        rcs = compute.virtual_machine_run_commands
        body = _rc("echo before; sleep 0.3; echo after; sleep 600", timeoutInSeconds=60)
        await rcs.begin_create_or_update(RG, "app-01", "live", body, polling=False)
        runner = emu.world.exec_runner
        assert runner is not None
        with anyio.fail_after(20):
            while True:  # each read in a new 15 s tick takes a fresh snapshot of the tail
                clock.advance(15)
                got = await rcs.get_by_virtual_machine(RG, "app-01", "live", expand="instanceView")
                if got.instance_view.output:
                    break
                await anyio.sleep(0.02)
        shown = got.instance_view.output
        await compute.virtual_machines.begin_restart(RG, "app-01", polling=False)
        with anyio.fail_after(20):  # the process group was killed, so its task ends
            await runner.join()
        clock.advance(1000)  # past the 60 s timeout and the agent's return
        cut = await rcs.get_by_virtual_machine(RG, "app-01", "live", expand="instanceView")
    assert shown in ("before\n", "before\nafter\n") and runner.running == 0
    assert (cut.instance_view.execution_state, cut.instance_view.output) == ("Running", shown)


FAIL_AFTER_S = 100.0  # run_commands.agent_fail_after_s, far below app-05's 600 s agent


async def test_only_a_dead_agent_fails_work_one_coming_back_lets_it_run() -> None:
    """One delay (``run_commands.agent_fail_after_s``) for managed and action run commands on a
    dead agent (app-06: Not Ready for good after its restart): Pending, then the operation fails
    with VMAgentStatusCommunicationError. An agent that is only coming back (app-05, 600 s) is not
    dead: work sent meanwhile, or pending when the VM restarted, waits past that delay and runs
    once the restart has finished."""
    clock = ManualClock()
    profile = _changed(run_commands={"agent_fail_after_s": FAIL_AFTER_S})
    async with (
        Emulator(profile, clock=clock) as emu,
        simkit.raw(emu) as s,
        simkit.clients(emu) as arm,
    ):
        compute = arm.compute(emu.info.subscriptions[0])
        rcs = compute.virtual_machine_run_commands
        await rcs.begin_create_or_update(RG, "app-05", "queued", _rc(), polling=False)
        clock.advance(1)  # "queued" is still waiting for its pickup (10 s)
        for vm in ("app-05", "app-06"):
            await compute.virtual_machines.begin_restart(RG, vm, polling=False)
        clock.advance(BOOT_S + 10 - clock.now())  # running again; agents not Ready
        sent_at = clock.now()
        await rcs.begin_create_or_update(RG, "app-05", "late", _rc(), polling=False)
        ops = {}
        for vm in ("app-05", "app-06"):
            async with s.put(_vm_path(emu, vm) + "/runCommands/rc", params=API, json=_rc()) as r:
                ops[f"{vm}/rc"] = r.headers["Azure-AsyncOperation"]
            async with s.post(_vm_path(emu, vm) + "/runCommand", params=API, json=ACTION) as r:
                ops[f"{vm}/action"] = r.headers["Azure-AsyncOperation"]
        clock.advance(sent_at + FAIL_AFTER_S + 1 - clock.now())
        early = {key: (await _read_json(s, url))[1] for key, url in ops.items()}
        dead = await rcs.get_by_virtual_machine(RG, "app-06", "rc", expand="instanceView")
        waiting = [
            (await rcs.get_by_virtual_machine(RG, "app-05", n, expand="instanceView"))
            for n in ("queued", "late", "rc")
        ]
        clock.advance(BOOT_S + 600 + PICKUP_S + 10 + 1 - clock.now())  # app-05 back at 630
        late = {key: (await _read_json(s, url))[1] for key, url in ops.items()}
        back = [
            (await rcs.get_by_virtual_machine(RG, "app-05", n, expand="instanceView"))
            for n in ("queued", "late", "rc")
        ]
        truth = await simkit.ground_truth(emu, "executions")
    for key in ("app-06/rc", "app-06/action"):
        assert early[key]["status"] == "Failed", key
        assert early[key]["error"]["code"] == "VMAgentStatusCommunicationError"
        assert datetime.fromisoformat(early[key]["endTime"]) == clock.utc(sent_at + FAIL_AFTER_S)
    assert dead.instance_view.execution_state == "Pending" and dead.provisioning_state == "Failed"
    assert [early[k]["status"] for k in ("app-05/rc", "app-05/action")] == ["InProgress"] * 2
    assert [(w.instance_view.execution_state, w.provisioning_state) for w in waiting] == [
        ("Pending", "Creating")
    ] * 3
    assert [late[k]["status"] for k in ("app-05/rc", "app-05/action")] == ["Succeeded"] * 2
    assert [b.instance_view.execution_state for b in back] == ["Succeeded"] * 3
    assert all(b.instance_view.start_time >= clock.utc(BOOT_S + 600) for b in back)
    rows = {(r["target"].rsplit("/", 1)[-1], r["run_command"]): r for r in truth["executions"]}
    assert rows[("app-06", "rc")]["agent_failed"] and not rows[("app-06", "rc")]["started"]
    assert rows[("app-06", "action:RunShellScript")]["agent_failed"]
    assert not any(r["agent_failed"] for (vm, _), r in rows.items() if vm == "app-05")


async def test_a_vm_whose_agent_never_returns_never_starts_work() -> None:
    clock = ManualClock()
    async with Emulator(PROFILE, clock=clock) as emu, simkit.clients(emu) as arm:
        compute = arm.compute(emu.info.subscriptions[0])
        await compute.virtual_machines.begin_restart(RG, "app-06", polling=False)
        clock.advance(100)
        rcs = compute.virtual_machine_run_commands
        await rcs.begin_create_or_update(RG, "app-06", "deaf", _rc(), polling=False)
        clock.advance(1000)
        got = await rcs.get_by_virtual_machine(RG, "app-06", "deaf", expand="instanceView")
        executions = (await simkit.ground_truth(emu, "executions"))["executions"]
    assert got.instance_view.execution_state == "Pending"
    assert [e["started"] for e in executions] == [False]


async def test_restart_throttling_policies() -> None:
    """A VM restart spends Update VM (12 per VM at once), a scale-set restart VMSS Update at
    subscription level only, and every one an ARM write."""
    clock = ManualClock()
    profile = PROFILE.model_copy(update={"throttling": simkit.profile("small").throttling})
    async with Emulator(profile, clock=clock) as emu, simkit.raw(emu) as s:
        vm_statuses, headers = [], {}
        for _ in range(13):
            async with s.post(_vm_path(emu, "app-01") + "/restart", params=API) as r:
                vm_statuses.append(r.status)
                headers = dict(r.headers) if r.status == 202 else headers
                if r.status == 429:
                    refused = await r.json()
        vmss = f"/subscriptions/{emu.info.subscriptions[0]}/resourceGroups/{RG}/providers"
        vmss += "/Microsoft.Compute/virtualMachineScaleSets/vmss-small/restart"
        ss_statuses = []
        for _ in range(13):
            async with s.post(vmss, params=API, json={"instanceIds": ["0"]}) as r:
                ss_statuses.append(r.status)
                ss_headers = dict(r.headers)
    assert vm_statuses == [202] * 12 + [429]
    assert refused["error"]["details"][0]["code"] == "TooManyRequests"
    assert "UpdateVM" in refused["error"]["details"][0]["target"]
    assert "UpdateVM" in headers["x-ms-ratelimit-remaining-resource"]
    assert "x-ms-ratelimit-remaining-subscription-writes" in headers
    assert ss_statuses == [202] * 13  # no per-scale-set bucket for this policy
    assert "VMSSUpdate" in ss_headers["x-ms-ratelimit-remaining-resource"]

"""Managed run-command state: lifecycle, provisioning, idempotency, delete, wire, exec mode."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from azure.mgmt.compute.models import VirtualMachineRunCommand

from fleet.sim.clock import ManualClock
from fleet.sim.errors import ArmError
from fleet.sim.model import AgentState, Orchestration, PowerState, SimScaleSet, SimVm
from fleet.sim.rc_body import split_parameters
from fleet.sim.rc_exec import ExecRunner
from fleet.sim.rc_rules import RunCommandRules
from fleet.sim.rc_state import tail_utf8
from fleet.sim.runcommands import RunCommandStore

API = "2025-04-01"
SECRET = "s3cr3t-Pa55-do-not-leak"


@dataclass(frozen=True)
class Planned:
    pending_s: float = 10.0
    duration_s: float = 20.0
    exit_code: int = 0
    output: str = "hello\n"
    error: str = ""
    outcome: str = "fake"


class FakePlanner:
    """Returns ``plans[script]`` (default ``Planned()``) and records every call."""

    def __init__(self, **plans: Planned) -> None:
        self.plans = plans
        self.calls: list[tuple[str, str, int]] = []

    def __call__(self, vm: SimVm, script: str, seq: int, **_: Any) -> Planned:
        self.calls.append((vm.name, script, seq))
        return self.plans.get(script, Planned())


def make_vm(name: str = "vm1", os: str = "linux", **kw: Any) -> SimVm:
    return SimVm("sub1", "rg1", name, "westus", os, "Standard_B1s", f"id-{name}", name, **kw)


def body(script: str = "echo hi", **props: Any) -> dict[str, Any]:
    return {"location": "West US", "properties": {"source": {"script": script}, **props}}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def planner() -> FakePlanner:
    return FakePlanner(
        fail=Planned(exit_code=3, output="partial", error="boom\n"),
        slow=Planned(pending_s=5, duration_s=100, output="a" * 100),
    )


@pytest.fixture
def store(clock: ManualClock, planner: FakePlanner) -> RunCommandStore:
    return RunCommandStore(clock, planner)


def iv(store: RunCommandStore, vm: SimVm, name: str = "rc1") -> dict[str, Any]:
    rc = store.get(vm, name)
    assert rc is not None
    return store.to_wire(rc, instance_view=True)["properties"]["instanceView"]


def prov(store: RunCommandStore, vm: SimVm, name: str = "rc1") -> str:
    rc = store.get(vm, name)
    assert rc is not None
    return store.to_wire(rc, instance_view=False)["properties"]["provisioningState"]


# -- lifecycle ---------------------------------------------------------------------------------


def test_lifecycle_pending_running_succeeded(store, clock, planner):
    vm = make_vm()
    clock.advance(100)
    res = store.put(vm, "rc1", body(), api_version=API)
    assert (res.created, res.reexecuted) == (True, True)
    assert planner.calls == [("vm1", "echo hi", 1)]
    assert iv(store, vm)["executionState"] == "Pending"
    assert "startTime" not in iv(store, vm) and "exitCode" not in iv(store, vm)
    assert prov(store, vm) == "Creating"
    clock.advance(10)
    view = iv(store, vm)
    assert view["executionState"] == "Running"
    assert view["startTime"] == clock.utc(110).isoformat(timespec="microseconds")[:-6] + "Z"
    assert prov(store, vm) == "Creating"
    clock.advance(19.9)
    assert iv(store, vm)["executionState"] == "Running"
    clock.advance(0.1)
    view = iv(store, vm)
    assert view["executionState"] == "Succeeded"
    assert (view["exitCode"], view["output"], view["error"]) == (0, "hello\n", "")
    assert datetime.fromisoformat(view["endTime"]) == clock.utc(130)
    assert prov(store, vm) == "Succeeded"


def test_running_view_is_what_the_linux_handler_sends(store, clock):
    """Azure/run-command-handler-linux: while Running the view has exitCode 0 (always present),
    "Execution in progress", and the output tail of the last 15-second status tick."""
    vm = make_vm()
    store.put(vm, "rc1", body("slow"), api_version=API)
    clock.advance(5 + 14)  # 14 s into a 100 s run: no tick yet
    view = iv(store, vm)
    assert (view["executionState"], view["exitCode"]) == ("Running", 0)
    assert view["executionMessage"] == "Execution in progress"
    assert view["output"] == "" and "endTime" not in view
    clock.advance(1)  # first tick at 15 s
    assert iv(store, vm)["output"] == "a" * 15
    clock.advance(35)  # 50 s in: the tail as of the tick at 45 s, not continuous
    assert iv(store, vm)["output"] == "a" * 45
    clock.advance(50)
    view = iv(store, vm)
    assert view["executionState"] == "Succeeded" and view["output"] == "a" * 100
    assert view["executionMessage"] == "Execution completed"


def test_windows_running_view_has_no_exit_code(store, clock):
    vm = make_vm(os="windows")
    store.put(vm, "rc1", body("slow"), api_version=API)
    clock.advance(5 + 30)
    view = iv(store, vm)
    assert view["executionState"] == "Running" and "exitCode" not in view
    assert view["output"] == "a" * 30  # same 15-second cadence


def test_output_refresh_cadence_is_a_rule(clock, planner):
    store = RunCommandStore(clock, planner, rules=RunCommandRules(output_refresh_s=0))
    vm = make_vm()
    store.put(vm, "rc1", body("slow"), api_version=API)
    clock.advance(5 + 7)
    assert iv(store, vm)["output"] == "a" * 7  # 0 = refreshed continuously


@pytest.mark.parametrize(("treat", "expected"), [(False, "Succeeded"), (True, "Failed")])
def test_nonzero_exit_and_treat_failure(store, clock, treat, expected):
    vm = make_vm()
    res = store.put(vm, "rc1", body("fail", treatFailureAsDeploymentFailure=treat), api_version=API)
    clock.advance(30)
    view = iv(store, vm)
    assert (view["executionState"], view["exitCode"], view["error"]) == ("Failed", 3, "boom\n")
    assert prov(store, vm) == expected
    op = store.operation(res.operation_id)
    assert op["status"] == expected
    assert ("error" in op) is treat
    if treat:
        assert op["error"]["code"] == "VMExtensionProvisioningError"


def test_treat_failure_ignored_before_its_api_version(store, clock):
    vm = make_vm()
    store.put(
        vm, "rc1", body("fail", treatFailureAsDeploymentFailure=True), api_version="2022-11-01"
    )
    clock.advance(30)
    assert prov(store, vm) == "Succeeded"


def test_linux_timeout_is_failed_with_exit_code_minus_one(store, clock):
    """run-command-handler-linux exec.go: the script is killed at timeoutInSeconds and Go
    reports the signalled process as exit status -1; the state is Failed (TimedOut is declared
    in types/instanceview.go but never set)."""
    vm = make_vm()
    store.put(vm, "rc1", body("slow", timeoutInSeconds=60), api_version=API)
    clock.advance(5 + 59)
    assert iv(store, vm)["executionState"] == "Running"
    clock.advance(1)
    view = iv(store, vm)
    assert (view["executionState"], view["exitCode"]) == ("Failed", -1)
    assert view["executionMessage"] == (
        "Execution failed: failed to execute command: command terminated with exit status=-1"
    )
    assert view["output"] == "a" * 60  # the whole tail it had written by then
    assert datetime.fromisoformat(view["endTime"]) == clock.utc(65)
    assert prov(store, vm) == "Succeeded"  # script failure is not a deployment failure by default
    [truth] = store.executions()
    assert (truth["state"], truth["exit_code"], truth["started"]) == ("Failed", -1, True)


def test_windows_timeout_is_timed_out(store, clock):
    vm = make_vm(os="windows")
    store.put(vm, "rc1", body("slow", timeoutInSeconds=60), api_version=API)
    clock.advance(65)
    view = iv(store, vm)
    assert (view["executionState"], view["exitCode"]) == ("TimedOut", -1)


def test_timeout_zero_means_no_handler_timeout(clock, planner):
    """exec.go: timeoutInSeconds 0 runs the script with plain exec.Command, no timeout at all."""
    planner.plans["long"] = Planned(pending_s=0, duration_s=20_000)
    store = RunCommandStore(clock, planner)
    vm, wedged = make_vm(), make_vm("w", script_fault="wedged")
    store.put(vm, "rc1", body("long", timeoutInSeconds=0), api_version=API)
    store.put(wedged, "rc1", body("long"), api_version=API)  # timeoutInSeconds omitted = 0
    clock.advance(19_999)
    assert iv(store, vm)["executionState"] == "Running"
    clock.advance(1)
    assert iv(store, vm)["executionState"] == "Succeeded"
    clock.advance(10**7)
    assert iv(store, wedged)["executionState"] == "Running"  # wedged: forever


def test_timeout_with_treat_failure_fails_provisioning(store, clock):
    vm = make_vm()
    store.put(
        vm,
        "rc1",
        body("slow", timeoutInSeconds=10, treatFailureAsDeploymentFailure=True),
        api_version=API,
    )
    clock.advance(15)
    assert prov(store, vm) == "Failed"


def test_agent_not_ready_stays_pending_and_the_operation_fails_after_25_minutes(store, clock):
    """azure-xplat-cli#2794 (21:26:05 -> 21:51:31), azure-powershell#5741 (10:57:51 -> 11:23:13):
    the operation fails with VMAgentStatusCommunicationError ~25 minutes after the request,
    whatever the script timeout; the handler never reported, so the view stays Pending."""
    vm = make_vm(agent=AgentState.NOT_READY)
    res = store.put(vm, "rc1", body(timeoutInSeconds=60), api_version=API)
    clock.advance(1521)  # long past the 60 s script timeout
    view = iv(store, vm)
    assert view["executionState"] == "Pending" and prov(store, vm) == "Creating"
    assert store.operation(res.operation_id)["status"] == "InProgress"
    clock.advance(1)
    op = store.operation(res.operation_id)
    assert op["status"] == "Failed" and op["error"]["code"] == "VMAgentStatusCommunicationError"
    assert op["error"]["message"].startswith("VM 'vm1' has not reported status for VM agent")
    assert datetime.fromisoformat(op["endTime"]) == clock.utc(1522)
    assert prov(store, vm) == "Failed"
    clock.advance(10**6)
    view = iv(store, vm)
    assert view["executionState"] == "Pending"
    assert "exitCode" not in view and "startTime" not in view and "endTime" not in view
    [ex] = store.executions()
    assert (ex["started"], ex["state"], ex["agent_failed"]) == (False, "Pending", True)


def test_dead_agent_delay_is_a_rule_and_applies_to_async_execution(clock, planner):
    store = RunCommandStore(clock, planner, rules=RunCommandRules(agent_fail_after_s=100))
    vm = make_vm(agent=AgentState.NOT_READY)
    store.put(vm, "rc1", body(timeoutInSeconds=6000, asyncExecution=True), api_version=API)
    clock.advance(99)
    assert prov(store, vm) == "Creating"
    clock.advance(1)
    assert prov(store, vm) == "Failed"


def test_dead_agent_run_canceled_before_the_failure_is_canceled(store, clock):
    vm = make_vm(agent=AgentState.NOT_READY)
    res = store.put(vm, "rc1", body(), api_version=API)
    clock.advance(100)
    store.put(vm, "rc1", body("echo v2"), api_version=API)  # supersedes it
    clock.advance(2000)
    assert store.operation(res.operation_id)["status"] == "Canceled"
    first, _ = store.executions()
    assert (first["state"], first["agent_failed"]) == ("Canceled", False)


def test_wedged_script_runs_forever(store, clock):
    vm = make_vm(script_fault="wedged")
    res = store.put(vm, "rc1", body(timeoutInSeconds=60), api_version=API)
    clock.advance(10**6)
    assert iv(store, vm)["executionState"] == "Running"
    assert prov(store, vm) == "Creating"
    assert store.operation(res.operation_id)["status"] == "InProgress"
    [ex] = store.executions()
    assert ex["started"] is True and ex["state"] == "Running"


def test_async_execution_provisioning_ends_when_script_starts(store, clock):
    vm = make_vm()
    res = store.put(vm, "rc1", body("slow", asyncExecution=True), api_version=API)
    assert prov(store, vm) == "Creating"
    assert store.operation(res.operation_id)["status"] == "InProgress"
    clock.advance(5)
    assert iv(store, vm)["executionState"] == "Running"
    assert prov(store, vm) == "Succeeded"
    op = store.operation(res.operation_id)
    assert op["status"] == "Succeeded"
    assert datetime.fromisoformat(op["endTime"]) == clock.utc(5)


def test_sync_operation_document(store, clock):
    vm = make_vm()
    res = store.put(vm, "rc1", body(), api_version=API)
    op = store.operation(res.operation_id)
    assert op == {"name": res.operation_id, "startTime": op["startTime"], "status": "InProgress"}
    clock.advance(30)
    op = store.operation(res.operation_id)
    assert op["status"] == "Succeeded" and "endTime" in op and "error" not in op
    assert store.operation("no-such-op") is None


# -- truncation --------------------------------------------------------------------------------


def test_tail_utf8_keeps_last_4096_bytes():
    assert tail_utf8("x" * 5000) == "x" * 4096
    assert tail_utf8("short") == "short"
    two = "é" * 3000 + "z"  # the last 4096 bytes start with the 2nd byte of an "é"
    out = tail_utf8(two)
    assert out == "é" * 2047 + "z" and len(out.encode()) == 4095
    three = "€" * 2000  # 3-byte chars: 4096 = 1365 * 3 + 1, so the cut leaves one stray byte
    assert tail_utf8(three) == "€" * 1365
    assert tail_utf8(b"\xff" + b"a" * 10) == "\ufffd" + "a" * 10  # invalid bytes never raise


def test_output_and_error_truncated_on_wire(clock, planner):
    big = "start" + "é" * 4000 + "END"
    planner.plans["big"] = Planned(output=big, error="e" * 9000)
    store = RunCommandStore(clock, planner)
    vm = make_vm()
    store.put(vm, "rc1", body("big"), api_version=API)
    clock.advance(30)
    view = iv(store, vm)
    assert len(view["output"].encode()) <= 4096 and view["output"].endswith("éEND")
    assert "start" not in view["output"]
    assert view["error"] == "e" * 4096


# -- idempotency, update, PATCH -----------------------------------------------------------------


def test_identical_put_does_not_reexecute(store, clock, planner):
    vm = make_vm()
    store.put(
        vm, "rc1", body(protectedParameters=[{"name": "P", "value": SECRET}]), api_version=API
    )
    clock.advance(30)
    again = body(protectedParameters=[{"name": "P", "value": SECRET}])
    again["location"] = "westus"
    res = store.put(vm, "rc1", again, api_version=API)
    assert (res.created, res.reexecuted) == (False, False)
    assert len(planner.calls) == 1
    assert store.operation(res.operation_id)["status"] == "Succeeded"
    assert prov(store, vm) == "Succeeded"


def test_changed_body_reexecutes_and_cancels_running(store, clock, planner):
    vm = make_vm()
    store.put(vm, "rc1", body("slow"), api_version=API)
    first_op = store.put(vm, "rc1", body("slow"), api_version=API).operation_id
    clock.advance(50)  # first execution is running
    res = store.put(vm, "rc1", body("echo v2"), api_version=API)
    assert (res.created, res.reexecuted) == (False, True)
    assert planner.calls[-1] == ("vm1", "echo v2", 2)
    assert prov(store, vm) == "Updating"
    first, second = store.executions()
    assert (first["seq"], first["state"], first["started"], first["canceled"]) == (
        1,
        "Canceled",
        True,
        True,
    )
    assert (second["seq"], second["state"]) == (2, "Pending")
    old = store.operation(first_op)
    assert old["status"] == "Canceled" and old["error"]["code"] == "OperationPreempted"
    clock.advance(30)
    assert prov(store, vm) == "Succeeded" and iv(store, vm)["executionState"] == "Succeeded"


def test_superseding_a_pending_execution_means_it_never_ran(store, clock):
    vm = make_vm()
    store.put(vm, "rc1", body(), api_version=API)
    store.put(vm, "rc1", body("echo v2"), api_version=API)
    first, _ = store.executions()
    assert (first["started"], first["state"]) == (False, "Canceled")
    assert first["exit_code"] is None


def test_protected_parameter_change_reexecutes(store, clock, planner):
    vm = make_vm()
    store.put(vm, "rc1", body(protectedParameters=[{"name": "P", "value": "a"}]), api_version=API)
    clock.advance(30)
    res = store.put(
        vm, "rc1", body(protectedParameters=[{"name": "P", "value": "b"}]), api_version=API
    )
    assert res.reexecuted and len(planner.calls) == 2
    res = store.put(
        vm,
        "rc1",
        body(protectedParameters=[{"name": "P", "value": "b"}], runAsPassword="x"),
        api_version=API,
    )
    assert res.reexecuted and len(planner.calls) == 3


def test_patch_merges_and_reexecutes_only_on_change(store, clock, planner):
    vm = make_vm()
    store.put(vm, "rc1", body(parameters=[{"name": "A", "value": "1"}]), api_version=API)
    clock.advance(30)
    res = store.patch(vm, "rc1", {"properties": {"timeoutInSeconds": 120}}, api_version=API)
    assert (res.created, res.reexecuted) == (False, True)
    props = store.to_wire(res.run_command, instance_view=False)["properties"]
    assert props["timeoutInSeconds"] == 120
    assert props["source"] == {"script": "echo hi"}
    assert props["parameters"] == [{"name": "A", "value": "1"}]
    assert props["provisioningState"] == "Updating"
    res = store.patch(vm, "rc1", {"properties": {"timeoutInSeconds": 120}}, api_version=API)
    assert res.reexecuted is False and len(planner.calls) == 2
    assert store.patch(vm, "rc1", {"properties": None}, api_version=API).reexecuted is False
    with pytest.raises(ArmError):
        store.patch(vm, "rc1", {"properties": {"parameters": "x"}}, api_version=API)
    res = store.patch(vm, "rc1", {"tags": {"k": "v"}}, api_version=API)
    assert res.reexecuted and store.to_wire(res.run_command, instance_view=False)["tags"] == {
        "k": "v"
    }


def test_patch_missing_is_404(store):
    with pytest.raises(ArmError) as err:
        store.patch(make_vm(), "nope", {"properties": {}}, api_version=API)
    assert err.value.status == 404 and err.value.code == "ResourceNotFound"
    assert "virtualMachines/vm1/runCommands/nope" in err.value.message


def test_update_may_omit_location_but_not_change_it(store):
    vm = make_vm()
    store.put(vm, "rc1", body(), api_version=API)
    no_loc = {"properties": {"source": {"script": "echo hi"}}}
    assert store.put(vm, "rc1", no_loc, api_version=API).reexecuted is False
    moved = body()
    moved["location"] = "eastus"
    with pytest.raises(ArmError) as err:
        store.put(vm, "rc1", moved, api_version=API)
    assert err.value.status == 400 and err.value.code == "InvalidResourceLocation"


# -- delete --------------------------------------------------------------------------------------


def test_delete_running_cancels_then_disappears(store, clock):
    vm = make_vm()
    store.put(vm, "rc1", body("slow"), api_version=API)
    clock.advance(20)
    res = store.delete(vm, "rc1")
    assert res is not None
    assert store.delete(vm, "rc1") == res  # deleting again: same operation
    view = iv(store, vm)
    assert view["executionState"] == "Canceled" and view["exitCode"] == -1
    assert datetime.fromisoformat(view["endTime"]) == clock.utc(20)
    assert prov(store, vm) == "Deleting"
    assert store.operation(res.operation_id)["status"] == "InProgress"
    [ex] = store.executions()
    assert (ex["started"], ex["canceled"], ex["state"]) == (True, True, "Canceled")
    clock.advance(5)
    assert store.get(vm, "rc1") is None and store.list(vm) == []
    assert store.delete(vm, "rc1") is None
    assert store.operation(res.operation_id)["status"] == "Succeeded"
    clock.advance(1000)  # ground truth survives the resource
    assert store.executions()[0]["state"] == "Canceled"


def test_delete_pending_never_executed(store, clock):
    vm = make_vm()
    store.put(vm, "rc1", body(), api_version=API)
    clock.advance(3)
    store.delete(vm, "rc1")
    [ex] = store.executions()
    assert (ex["started"], ex["state"], ex["exit_code"]) == (False, "Canceled", None)
    assert store.stats()["executed_per_target"] == {}


def test_delete_finished_keeps_its_outcome(store, clock):
    vm = make_vm()
    store.put(vm, "rc1", body(), api_version=API)
    clock.advance(30)
    store.delete(vm, "rc1")
    assert iv(store, vm)["executionState"] == "Succeeded"
    assert store.delete(make_vm(), "missing") is None


def test_put_or_patch_while_deleting_conflicts(store, clock):
    vm = make_vm()
    store.put(vm, "rc1", body(), api_version=API)
    store.delete(vm, "rc1")
    for call in (store.put, store.patch):
        with pytest.raises(ArmError) as err:
            call(vm, "RC1", body("other"), api_version=API)
        assert (err.value.status, err.value.code) == (409, "Conflict")
    clock.advance(5)
    res = store.put(vm, "rc1", body("other"), api_version=API)
    assert res.created and store.executions()[-1]["seq"] == 2  # seq counts per name and VM


# -- VM state, validation ----------------------------------------------------------------------


@pytest.mark.parametrize("power", [PowerState.DEALLOCATED, PowerState.STOPPED])
def test_vm_not_running_rejects_writes(store, power):
    vm = make_vm()
    store.put(vm, "rc1", body(), api_version=API)
    vm.power_state = power
    for call, name in ((store.put, "rc2"), (store.patch, "rc1")):
        with pytest.raises(ArmError) as err:
            call(vm, name, body("x"), api_version=API)
        assert (err.value.status, err.value.code) == (409, "OperationNotAllowed")
        assert err.value.message == "Cannot modify extensions in the VM when the VM is not running."
        assert err.value.details[0]["code"] == "CannotModifyExtensionsWhenVMNotRunning"
    assert store.get(vm, "rc1") is not None and len(store.list(vm)) == 1
    assert store.delete(vm, "rc1") is not None


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("not a dict", "body"),
        ({"properties": {"source": {"script": "x"}}}, "location"),
        ({"location": "westus"}, "properties"),
        ({"location": "westus", "properties": {}}, "source"),
        ({"location": "westus", "properties": {"source": {}}}, "source"),
        (
            {
                "location": "westus",
                "properties": {"source": {"script": "x", "commandId": "ifconfig"}},
            },
            "source",
        ),
        (body(parameters={"name": "a", "value": "b"}), "parameters"),
        (body(parameters=[{"name": "a"}]), "parameters[0]"),
        (body(protectedParameters=[{"name": "a", "value": 1}]), "protectedParameters[0]"),
        (body(timeoutInSeconds=-1), "timeoutInSeconds"),
        (body(timeoutInSeconds=1.5), "timeoutInSeconds"),
        (body(timeoutInSeconds=True), "timeoutInSeconds"),
        (body(asyncExecution="yes"), "asyncExecution"),
        ({**body(), "tags": {"a": 1}}, "tags"),
        ({**body(), "tags": {f"t{i}": "v" for i in range(51)}}, "at most 50 tags"),
        ({**body(), "tags": {"a/b": "v"}}, "'a/b' is invalid"),
        ({**body(), "tags": {"": "v"}}, "is invalid"),
        ({**body(), "tags": {"k": "v" * 257}}, "values at most 256"),
        ({"location": "westus", "properties": {"source": {"commandId": "Nope"}}}, "Nope"),
        ({"location": "westus", "properties": {"source": {"commandId": "IPConfig"}}}, "IPConfig"),
    ],
)
def test_validation_errors(store, raw, needle):
    with pytest.raises(ArmError) as err:
        store.put(make_vm(), "rc1", raw, api_version=API)
    assert err.value.status == 400
    assert err.value.code in ("InvalidParameter", "BadRequest")
    assert needle in err.value.message
    assert store.list(make_vm()) == []


def test_builtin_commands_per_os_and_unknown_properties_ignored(store, planner):
    linux, windows = make_vm(), make_vm("win1", os="windows")
    store.put(
        linux,
        "a",
        {"location": "westus", "properties": {"source": {"commandId": "ifconfig"}}},
        api_version=API,
    )
    store.put(
        windows,
        "b",
        {"location": "westus", "properties": {"source": {"commandId": "runPowerShellScript"}}},
        api_version=API,
    )
    with pytest.raises(ArmError):
        store.put(
            windows,
            "c",
            {"location": "westus", "properties": {"source": {"commandId": "RunShellScript"}}},
            api_version=API,
        )
    rc = store.put(
        linux, "d", body(bogus=1, provisioningState="Failed"), api_version=API
    ).run_command
    props = store.to_wire(rc, instance_view=False)["properties"]
    assert "bogus" not in props and props["provisioningState"] == "Creating"
    assert planner.calls[0] == ("vm1", "ifconfig", 1)
    # positional parameters (empty name) are fine
    store.put(linux, "e", body(parameters=[{"name": "", "value": "x"}]), api_version=API)


# -- concurrency, wire, ground truth -----------------------------------------------------------


def test_several_run_commands_on_one_vm_run_concurrently(store, clock):
    vm = make_vm()
    for i in range(3):
        store.put(vm, f"rc{i}", body(f"echo {i}"), api_version=API)
        clock.advance(1)
    clock.advance(9)  # rc0 started at 10, rc1 at 11, rc2 at 12
    states = {rc.name: iv(store, vm, rc.name)["executionState"] for rc in store.list(vm)}
    assert states == {"rc0": "Running", "rc1": "Running", "rc2": "Running"}
    clock.advance(20)
    assert all(iv(store, vm, f"rc{i}")["executionState"] == "Succeeded" for i in range(3))
    assert store.get(vm, "RC1") is not None  # names are case-insensitive


def test_to_wire_deserializes_with_sdk_and_hides_secrets(store, clock):
    vm = make_vm(tags={"x": "y"})
    raw = body(
        "echo hi",
        parameters=[{"name": "A", "value": "1"}],
        protectedParameters=[{"name": "TOKEN", "value": SECRET}],
        runAsUser="azureuser",
        runAsPassword=SECRET,
        outputBlobUri="https://acct.blob.core.windows.net/c/out",
        timeoutInSeconds=600,
    )
    raw["tags"] = {"team": "infra"}
    store.put(vm, "rc1", raw, api_version=API)
    clock.advance(30)
    rc = store.get(vm, "rc1")
    wire = store.to_wire(rc, instance_view=True)
    assert wire["id"] == f"{vm.id}/runCommands/rc1"
    assert wire["type"] == "Microsoft.Compute/virtualMachines/runCommands"
    assert wire["location"] == "westus" and wire["tags"] == {"team": "infra"}
    assert "protectedParameters" not in wire["properties"]
    assert "runAsPassword" not in wire["properties"]
    model = VirtualMachineRunCommand(json.loads(json.dumps(wire)))
    assert model.source.script == "echo hi" and model.run_as_user == "azureuser"
    assert model.timeout_in_seconds == 600 and model.async_execution is False
    assert model.provisioning_state == "Succeeded"
    assert model.instance_view.execution_state == "Succeeded"
    assert model.instance_view.exit_code == 0 and model.instance_view.output == "hello\n"
    assert model.instance_view.end_time == clock.utc(30)
    assert model.parameters[0].name == "A"
    for blob in (wire, store.executions(), store.stats(), repr(rc), repr(rc.spec)):
        assert SECRET not in json.dumps(blob, default=str)
    assert SECRET not in json.dumps(store.to_wire(rc, instance_view=False))


def test_uniform_instance_wire_type():
    ss = SimScaleSet("sub1", "rg1", "ss1", "westus", Orchestration.UNIFORM, "linux", "B1s", "u")
    inst = make_vm("ss1_0", scale_set=ss, instance_id="0")
    store = RunCommandStore(ManualClock(), FakePlanner())
    rc = store.put(inst, "rc1", body(), api_version=API).run_command
    wire = store.to_wire(rc, instance_view=False)
    assert wire["type"] == "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands"
    assert wire["id"].endswith("/virtualMachineScaleSets/ss1/virtualMachines/0/runCommands/rc1")
    assert "tags" not in wire
    with pytest.raises(ArmError) as err:
        store.patch(inst, "nope", {}, api_version=API)
    assert "virtualMachineScaleSets/ss1/virtualMachines/0/runCommands/nope" in err.value.message


def test_stats_ground_truth(store, clock):
    a, b = make_vm("a"), make_vm("b", agent=AgentState.NOT_READY)
    store.put(a, "rc1", body(), api_version=API)
    store.put(a, "rc2", body("fail"), api_version=API)
    store.put(b, "rc1", body(timeoutInSeconds=10), api_version=API)
    clock.advance(30)
    store.put(a, "rc1", body("echo again"), api_version=API)
    clock.advance(30)
    stats = store.stats()
    assert stats["executions"] == 4 and stats["started"] == 3 and stats["never_started"] == 1
    assert stats["by_state"] == {"Succeeded": 2, "Failed": 1, "Pending": 1}  # b: dead agent
    assert stats["executed_per_target"] == {a.id: {"rc1": 2, "rc2": 1}}
    assert stats["executions_per_target"] == {a.id: 3, b.id: 1}
    assert stats["run_commands"] == 3


def test_split_parameters():
    env, args = split_parameters((("A", "1"), ("", "pos1"), ("B", ""), ("", "pos 2")))
    assert env == {"A": "1"} and args == ["pos1", "pos 2"]


# -- exec mode (real bash, real time; small) ---------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _wait_state(store: RunCommandStore, vm: SimVm, name: str, states: set[str]) -> dict:
    await _until(lambda: iv(store, vm, name)["executionState"] in states)
    return iv(store, vm, name)


async def _until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll a real process's progress (exec mode has no event to wait on)."""
    for _ in range(int(timeout_s / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


@pytest.mark.anyio
async def test_exec_mode_runs_bash_with_params(tmp_path: Path):
    clock = ManualClock()
    planner = FakePlanner()
    async with ExecRunner(tmp_path, clock, max_processes=2) as runner:
        store = RunCommandStore(clock, planner, exec_runner=runner)
        vm, win = make_vm(), make_vm("win1", os="windows")
        script = 'echo "A=$A T=$TOKEN args=$1|$2"; echo err >&2; pwd; exit 7'
        params = [
            {"name": "A", "value": "x y"},
            {"name": "", "value": "p 1"},
            {"name": "", "value": "p2"},
        ]
        store.put(
            vm,
            "rc1",
            body(
                script, parameters=params, protectedParameters=[{"name": "TOKEN", "value": SECRET}]
            ),
            api_version=API,
        )
        store.put(win, "rc1", body("Write-Host hi"), api_version=API)
        assert planner.calls == [("win1", "Write-Host hi", 1)]  # Windows falls back to the model
        await runner.join()
        view = iv(store, vm)
        assert view["executionState"] == "Failed" and view["exitCode"] == 7
        lines = view["output"].splitlines()
        assert lines[0] == f"A=x y T={SECRET} args=p 1|p2"
        assert Path(lines[1]).parent == runner.root
        assert view["error"] == "err\n"
        assert store.executions()[0]["started"] is True
        root = runner.root
    assert not root.exists()  # aclose removed the working directories


@pytest.mark.anyio
async def test_exec_mode_timeout_and_cancel_kill_process_group(tmp_path: Path):
    clock = ManualClock()
    async with ExecRunner(tmp_path, clock) as runner:
        store = RunCommandStore(clock, FakePlanner(), exec_runner=runner)
        vm = make_vm()
        marker = tmp_path / "survived"
        child = f"(sleep 1.5; touch {marker}) & echo started; sleep 30"
        store.put(vm, "slow", body(child, timeoutInSeconds=1), api_version=API)
        store.put(vm, "cancel", body(child), api_version=API)
        await _wait_state(store, vm, "cancel", {"Running"})
        clock.advance(15)  # the handler's status tick shows the output written so far

        def started() -> bool:
            clock.advance(15)
            return "started" in iv(store, vm, "cancel")["output"]

        await _until(started)
        store.delete(vm, "cancel")
        assert iv(store, vm, "cancel")["executionState"] == "Canceled"
        view = await _wait_state(store, vm, "slow", {"TimedOut", "Failed", "Succeeded"})
        assert view["executionState"] == "Failed" and view["exitCode"] == -1  # Linux handler
        assert view["output"] == "started\n"
        await runner.join()
        assert runner.running == 0
        await asyncio.sleep(0.7)  # the background children would have touched the file by now
        assert not marker.exists()
        cancel_truth = next(e for e in store.executions() if e["run_command"] == "cancel")
        assert cancel_truth["started"] and cancel_truth["canceled"]


@pytest.mark.anyio
async def test_exec_mode_concurrency_bound(tmp_path: Path):
    clock = ManualClock()
    async with ExecRunner(tmp_path, clock, max_processes=2) as runner:
        store = RunCommandStore(clock, FakePlanner(), exec_runner=runner)
        vm = make_vm()
        go = tmp_path / "go"  # no script ends before the test has seen two run and two wait
        script = f"while [ ! -e {go} ]; do sleep 0.02; done; echo {{}}"
        for i in range(4):
            store.put(vm, f"rc{i}", body(script.format(i)), api_version=API)

        def states() -> list[str]:
            return [iv(store, vm, f"rc{i}")["executionState"] for i in range(4)]

        await _until(lambda: states().count("Running") == 2)
        assert states().count("Pending") == 2
        go.touch()
        await runner.join()
        assert runner.peak_running == 2 and runner.started_total == 4
        assert [iv(store, vm, f"rc{i}")["output"] for i in range(4)] == ["0\n", "1\n", "2\n", "3\n"]


@pytest.mark.anyio
async def test_exec_mode_cancel_while_queued_never_starts(tmp_path: Path):
    clock = ManualClock()
    runner = ExecRunner(base_dir=tmp_path, max_processes=1)  # clock bound by the store
    try:
        store = RunCommandStore(clock, FakePlanner(), exec_runner=runner)
        vm = make_vm()
        store.put(vm, "first", body("sleep 0.2"), api_version=API)
        store.put(vm, "queued", body("echo never"), api_version=API)
        store.delete(vm, "queued")
        await runner.join()
        queued = next(e for e in store.executions() if e["run_command"] == "queued")
        assert (queued["started"], queued["state"]) == (False, "Canceled")
        assert runner.started_total == 1
    finally:
        await runner.aclose()


@pytest.mark.anyio
async def test_exec_mode_aclose_kills_running(tmp_path: Path):
    clock = ManualClock()
    runner = ExecRunner(tmp_path, clock)
    store = RunCommandStore(clock, FakePlanner(), exec_runner=runner)
    vm = make_vm()
    store.put(vm, "rc1", body("sleep 30"), api_version=API)
    await _wait_state(store, vm, "rc1", {"Running"})
    with anyio.fail_after(5):
        await runner.aclose()
    assert runner.running == 0
    with pytest.raises(RuntimeError):
        store.put(vm, "rc2", body("echo"), api_version=API)

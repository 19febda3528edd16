"""Unit tests of VM restarts without HTTP: the timelines (``restart_plan``) and the state model
(``power``) on a hand-moved clock."""

from __future__ import annotations

import random
from typing import Any

import pytest

from fleet.sim.clock import ManualClock
from fleet.sim.errors import ArmError
from fleet.sim.model import AgentState, PowerState, SimVm
from fleet.sim.outcomes import PlannedRun
from fleet.sim.power import PowerModel
from fleet.sim.profile import ProfileError
from fleet.sim.profile_ops import RestartSettings
from fleet.sim.restart_plan import RestartKind, plan_restart, restart_kind
from tests import simkit


def _fixed(seconds: float) -> dict[str, float]:
    return {"median": seconds, "sigma": 0.0, "min": seconds, "max": seconds}


SETTINGS = RestartSettings.model_validate(
    {
        "operation": _fixed(5),
        "boot": _fixed(30),
        "agent": _fixed(20),
        "slow": {"names": ["slow-*"], "agent": _fixed(600)},
        "agent_never": {"names": ["deaf-*"]},
        "stays_stopped": {"names": ["gone-*"]},
        "abandon_after": 1000,
    }
)


def _vm(name: str, **kw: Any) -> SimVm:
    return SimVm("sub", "rg", name, "eastus", "linux", "Standard_D2s_v5", "id", name, **kw)


def test_kind_by_name_glob_first_then_seeded_share() -> None:
    assert restart_kind(SETTINGS, 1, _vm("slow-1")) is RestartKind.SLOW
    assert restart_kind(SETTINGS, 1, _vm("deaf-1")) is RestartKind.AGENT_NEVER
    assert restart_kind(SETTINGS, 1, _vm("gone-1")) is RestartKind.STAYS_STOPPED
    assert restart_kind(SETTINGS, 1, _vm("web-1")) is RestartKind.NORMAL
    half = RestartSettings.model_validate({"slow": {"share": 0.5}})
    kinds = [restart_kind(half, 3, _vm(f"web-{i}")) for i in range(400)]
    assert kinds == [restart_kind(half, 3, _vm(f"web-{i}")) for i in range(400)]  # stable
    slow = kinds.count(RestartKind.SLOW)
    assert 140 < slow < 260  # about half, drawn per VM
    assert kinds != [restart_kind(half, 4, _vm(f"web-{i}")) for i in range(400)]  # per seed


def test_shares_over_one_are_refused() -> None:
    with pytest.raises(ProfileError, match=r"add up to 1\.2"):
        simkit.profile("small", restart={"slow": {"share": 0.7}, "agent_never": {"share": 0.5}})


def test_normal_timeline() -> None:
    plan = plan_restart(SETTINGS, RestartKind.NORMAL, random.Random(1), 100.0)
    assert (plan.boot_end, plan.op_end, plan.agent_ready_at) == (130.0, 105.0, 150.0)
    instants = (100, 104, 129, 140, 150)
    states = [(plan.power(t), plan.agent(t), plan.provisioning(t)) for t in instants]
    assert states == [
        (PowerState.STARTING, AgentState.STARTING, "Updating"),
        (PowerState.STARTING, AgentState.STARTING, "Updating"),
        (PowerState.STARTING, AgentState.STARTING, "Succeeded"),  # op done while still booting
        (PowerState.RUNNING, AgentState.STARTING, "Succeeded"),
        (PowerState.RUNNING, AgentState.READY, "Succeeded"),
    ]


def test_failure_kinds_never_come_back() -> None:
    deaf = plan_restart(SETTINGS, RestartKind.AGENT_NEVER, random.Random(1), 0.0)
    assert deaf.power(1e6) is PowerState.RUNNING and deaf.agent(1e6) is AgentState.NOT_READY
    gone = plan_restart(SETTINGS, RestartKind.STAYS_STOPPED, random.Random(1), 0.0)
    assert gone.power(29) is PowerState.STARTING and gone.power(31) is PowerState.STOPPED
    assert gone.provisioning(999) == "Updating" and gone.provisioning(1000) == "Failed"
    slow = plan_restart(SETTINGS, RestartKind.SLOW, random.Random(1), 0.0)
    assert slow.agent_ready_at == 630.0
    # a dead agent stays dead through a restart
    dead = plan_restart(SETTINGS, RestartKind.NORMAL, random.Random(1), 0.0, agent_dead=True)
    assert dead.agent_ready_at is None and dead.agent(1e6) is AgentState.NOT_READY


def _model() -> tuple[PowerModel, ManualClock, list[tuple[str, float, float | None]]]:
    clock = ManualClock()
    seen: list[tuple[str, float, float | None]] = []
    model = PowerModel(SETTINGS, 7, clock)
    model.on_restart = lambda vm, now, back: seen.append((vm.name, now, back))
    return model, clock, seen


def test_advance_applies_transitions_and_operation_documents() -> None:
    model, clock, seen = _model()
    vm = _vm("web-1")
    op = model.restart([vm], clock.now(), via="vm", scope=vm)
    assert (vm.power_state, vm.agent, vm.provisioning_state) == ("starting", "starting", "Updating")
    assert seen == [("web-1", 0.0, 50.0)]
    assert op.document(clock.now())["status"] == "InProgress"
    clock.advance(10)
    model.advance(clock.now())
    assert vm.provisioning_state == "Succeeded" and vm.power_state is PowerState.STARTING
    assert op.document(clock.now())["status"] == "Succeeded"
    clock.advance(25)  # t=35: booted, agent coming
    model.advance(clock.now())
    assert (vm.power_state, vm.agent) == (PowerState.RUNNING, AgentState.STARTING)
    assert model.agent_wait(vm, clock.now()) == pytest.approx(15.0)
    clock.advance(20)
    model.advance(clock.now())
    assert vm.agent is AgentState.READY and model.agent_wait(vm, clock.now()) == 0.0


def test_preempted_and_refused_restarts() -> None:
    model, clock, _ = _model()
    vm = _vm("web-1")
    first = model.restart([vm], 0.0, via="vm", scope=vm)
    clock.advance(2)
    second = model.restart([vm], clock.now(), via="vm", scope=vm)  # still booting: allowed
    doc = first.document(clock.now())
    assert doc["status"] == "Canceled" and doc["error"]["code"] == "OperationPreempted"
    clock.advance(10)
    assert second.document(clock.now())["status"] == "Succeeded"
    truth = model.restarts(clock.now())
    assert truth["restarts_per_target"] == {vm.id: 2}
    assert [r["preempted"] for r in truth["restarts"]] == [True, False]
    stopped = _vm("web-2", power_state=PowerState.DEALLOCATED)
    with pytest.raises(ArmError) as refused:
        model.restart([vm, stopped], clock.now(), via="vmss", scope=vm)
    assert refused.value.status == 409 and refused.value.code == "OperationNotAllowed"
    assert model.restarts(clock.now())["restart_count"] == 2  # all or nothing


def test_stays_stopped_is_abandoned() -> None:
    model, clock, _ = _model()
    vm = _vm("gone-1")
    op = model.restart([vm], 0.0, via="vm", scope=vm)
    clock.advance(999)
    model.advance(clock.now())
    assert vm.power_state is PowerState.STOPPED
    assert op.document(clock.now())["status"] == "InProgress"
    clock.advance(1)
    model.advance(clock.now())
    doc = op.document(clock.now())
    assert doc["status"] == "Canceled" and doc["error"]["code"] == "InternalOperationError"
    assert vm.provisioning_state == "Failed"
    with pytest.raises(ArmError, match="requires the VM to be running"):
        model.restart([vm], clock.now(), via="vm", scope=vm)


def test_gate_holds_work_until_the_agent_is_back() -> None:
    model, clock, _ = _model()
    vm = _vm("web-1")

    def plan(target: SimVm, script: str, seq: int) -> PlannedRun:
        return PlannedRun(pending_s=3.0, duration_s=10.0, exit_code=0, output="", error="")

    gated = model.gate(plan)
    assert gated(vm, "uptime", 1).pending_s == 3.0  # not restarting: untouched
    model.restart([vm], 0.0, via="vm", scope=vm)
    clock.advance(40)  # running, agent back at 50
    model.advance(clock.now())
    assert gated(vm, "uptime", 2).pending_s == pytest.approx(13.0)

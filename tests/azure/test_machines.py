"""``fleet.azure.machines`` against the emulator over real HTTPS: a restart is accepted with its
operation URL, leaves fleet's client at most once per call whatever answers it (the engine alone
decides about sending it again, after a read), and the instance view is read into what a reboot
needs (power state, provisioning state and its time, the agent) for VMs and Uniform instances.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from fleet.azure.machines import AzureMachines
from fleet.model import MachineView, RestartAccepted, Target, TargetKind
from fleet.sim.clock import ManualClock
from fleet.sim.emulator import Emulator
from tests import simkit
from tests.azure.wired import RG, arm_clients, set_faults, small_vm

pytestmark = pytest.mark.anyio


def _fixed(seconds: float) -> dict[str, float]:
    return {"median": seconds, "sigma": 0.0, "min": seconds, "max": seconds}


PROFILE = simkit.profile(
    "small",
    restart={"operation": _fixed(5), "boot": _fixed(30), "agent": _fixed(20)},
    throttling={"enabled": False},
)


def instance(emu: Emulator, index: str = "1") -> Target:
    sub = emu.info.subscriptions[0]
    return Target(
        id=f"/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.Compute/"
        f"virtualMachineScaleSets/vmss-small/virtualMachines/{index}",
        name=f"vmss-small_{index}", kind=TargetKind.VMSS_UNIFORM, subscription=sub,
        resource_group=RG, location="eastus", os="linux", scale_set="vmss-small",
        instance_id=index,
    )  # fmt: skip


@asynccontextmanager
async def machines(emu: Emulator) -> AsyncIterator[AzureMachines]:
    """Clients wired as ``azure_backend`` wires them (tests/azure/wired.py)."""
    async with arm_clients(emu) as clients:
        yield AzureMachines(clients)


async def test_restart_and_the_instance_view_of_a_vm_and_an_instance() -> None:
    clock = ManualClock()
    async with Emulator(PROFILE, clock=clock) as emu, machines(emu) as m:
        before = await m.view(small_vm(emu))
        accepted = await m.restart(small_vm(emu))
        on_instance = await m.restart(instance(emu))
        clock.advance(2)
        booting = await m.view(small_vm(emu))
        clock.advance(38)
        agent_coming = await m.view(instance(emu))
        clock.advance(20)
        back = await m.view(small_vm(emu))
    assert isinstance(accepted, RestartAccepted) and isinstance(on_instance, RestartAccepted)
    assert accepted.operation is not None and "/operations/" in accepted.operation
    assert isinstance(before, MachineView) and before.back and not before.busy
    assert isinstance(booting, MachineView) and isinstance(back, MachineView)
    assert (booting.power_state, booting.provisioning_state, booting.agent) == (
        "starting", "updating", None
    )  # fmt: skip
    assert booting.provisioned_at == clock.utc(0) and booting.busy
    assert isinstance(agent_coming, MachineView)
    assert (agent_coming.power_state, agent_coming.agent) == ("running", "Not Ready")
    assert agent_coming.provisioned_at == clock.utc(5)  # the operation ended at 5 s
    assert back.back and back.provisioned_at == clock.utc(5)
    assert before.provisioned_at is not None and before.provisioned_at < clock.utc(0)


async def test_a_restart_answered_5xx_leaves_once() -> None:
    """azure-core re-sends a POST answered 500/503/504 (``_is_method_retryable``); a restart is
    made with SEND_ONCE, so the engine alone decides, after reading the instance view."""
    async with Emulator(PROFILE, time_scale=50) as emu, machines(emu) as m:
        await set_faults(emu, {"transient": {"rate": 1.0, "statuses": [503]}})
        error = await m.restart(small_vm(emu))
        view = await m.view(small_vm(emu))
        stats = await simkit.ground_truth(emu)
    assert not isinstance(error, RestartAccepted) and (error.status, error.transient) == (503, True)
    assert stats["faults"]["transient"] == 1 + 4  # the restart once; the read with its retries
    assert not isinstance(view, MachineView) and view.status == 503

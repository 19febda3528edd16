"""A first end-to-end pass: real SDK clients over HTTPS list the fleet and run one command."""

from __future__ import annotations

import anyio
import pytest

from tests import simkit

pytestmark = pytest.mark.anyio


async def test_sdk_lists_fleet_and_runs_a_command(small_emu) -> None:
    sub = small_emu.info.subscriptions[0]
    async with simkit.clients(small_emu) as arm:
        vms = [v async for v in arm.compute(sub).virtual_machines.list_all(status_only="true")]
        assert len(vms) == 16  # 12 VMs + 4 Flexible members
        body = {"location": "eastus", "properties": {"source": {"script": "uptime"}}}
        rc = arm.compute(sub).virtual_machine_run_commands
        poller = await rc.begin_create_or_update("rg-small", "app-01", "t1", body, polling=False)
        created = await poller.result()
        assert created.provisioning_state == "Creating"
        with anyio.fail_after(30):
            while True:
                got = await rc.get_by_virtual_machine(
                    "rg-small", "app-01", "t1", expand="instanceView"
                )
                if got.instance_view.execution_state == "Succeeded":
                    break
                await anyio.sleep(0.05)
        assert got.instance_view.exit_code == 0
        assert "app-01" in got.instance_view.output
    truth = await simkit.ground_truth(small_emu, "executions")
    assert truth["executed_per_target"][got.id.rsplit("/runCommands", 1)[0]]["t1"] == 1

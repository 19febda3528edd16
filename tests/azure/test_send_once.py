"""A run-command PUT leaves fleet's client at most once per call, whatever fails (the engine
alone decides about sending it again, after a read); reads keep the client's retries. Against
the emulator over real HTTPS, whose request counts are the ground truth.

Also the fact that makes ``send_writes_once`` necessary: a plain aiohttp session re-sends a PUT
by itself when the server drops the connection after processing it."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest

from fleet.azure.run_commands import AzureRunCommands
from fleet.azure.send_once import send_writes_once
from fleet.model import (
    RunView,
)
from fleet.sim.emulator import Emulator
from tests import simkit
from tests.azure.wired import ONCE, RG, arm_clients, set_faults, small_vm

pytestmark = pytest.mark.anyio

VM = "app-01"
PUTS, GETS = "VirtualMachineRunCommands_CreateOrUpdate", "VirtualMachineRunCommands_Get"


@asynccontextmanager
async def run_commands(emu: Emulator) -> AsyncIterator[AzureRunCommands]:
    """Clients wired as ``azure_backend`` wires them (tests/azure/wired.py)."""
    async with arm_clients(emu) as clients:
        yield AzureRunCommands(clients)


async def _requests(emu: Emulator, operation: str) -> int:
    return int((await simkit.ground_truth(emu))["requests"].get(operation, 0))


async def test_a_put_whose_answer_is_lost_after_processing_is_sent_once() -> None:
    async with Emulator(simkit.profile("small"), time_scale=50) as emu:
        async with run_commands(emu) as rc:
            await set_faults(emu, {"connection_resets": {"rate": 1.0, "after_processing": 1.0}})
            error = await rc.put(small_vm(emu), ONCE)
            assert error is not None and error.status == 0 and error.transient
            assert await _requests(emu, PUTS) == 1  # neither azure-core nor aiohttp re-sent it
            await set_faults(emu, {})
            view = await rc.get(small_vm(emu), ONCE.run_command)
        truth = await simkit.ground_truth(emu, "executions")
    assert isinstance(view, RunView) and view.run_id == "run-once"  # it did arrive
    assert truth["executions_per_target"] == {small_vm(emu).id: 1}


async def test_a_put_answered_5xx_is_sent_once_while_reads_are_retried() -> None:
    async with Emulator(simkit.profile("small"), time_scale=50) as emu, run_commands(emu) as rc:
        await set_faults(emu, {"transient": {"rate": 1.0, "statuses": [503]}})
        error = await rc.put(small_vm(emu), ONCE)
        read = await rc.get(small_vm(emu), ONCE.run_command)
        puts, gets = await _requests(emu, PUTS), await _requests(emu, GETS)
    assert error is not None and (error.status, error.code) == (503, "ServiceUnavailable")
    assert not isinstance(read, RunView) and read.status == 503
    assert puts == 1
    assert gets == 4  # reads keep the client's retries (azure-core's status budget: 3)


@asynccontextmanager
async def _session(emu: Emulator, *, middleware: bool) -> AsyncIterator[aiohttp.ClientSession]:
    ctx = ssl.create_default_context(cafile=emu.info.ca_cert)
    async with aiohttp.ClientSession(
        base_url=emu.info.endpoint,
        connector=aiohttp.TCPConnector(ssl=ctx),
        headers={"Authorization": f"Bearer {emu.token}"},
        middlewares=(send_writes_once,) if middleware else (),
    ) as session:
        yield session


@pytest.mark.parametrize(("middleware", "arrived"), [(False, 2), (True, 1)])
async def test_aiohttp_resends_a_dropped_put_unless_the_middleware_stops_it(
    middleware: bool, arrived: int
) -> None:
    body = {"location": "eastus", "properties": {"source": {"script": "echo hi"}}}
    async with Emulator(simkit.profile("small"), time_scale=50) as emu:
        path = simkit.vm_path(emu.info.subscriptions[0], RG, VM) + "/runCommands/dropped"
        await set_faults(emu, {"connection_resets": {"rate": 1.0, "after_processing": 1.0}})
        async with _session(emu, middleware=middleware) as s:
            with pytest.raises(aiohttp.ClientConnectionError):
                async with s.put(path, params={"api-version": simkit.COMPUTE_API}, json=body):
                    pass
        assert await _requests(emu, PUTS) == arrived

"""Work running side by side on one ARM connection counts its own requests (``counting()``),
through the real SDK against the emulator; the connection counts them all."""

from __future__ import annotations

import anyio
import pytest

from fleet.azure.arm_tally import ArmTally, counting
from fleet.model import Selector
from tests import simkit
from tests.e2e.harness import sim_backend

pytestmark = pytest.mark.anyio


async def test_each_counting_block_sees_its_own_requests_only() -> None:
    async with sim_backend(simkit.profile("small"), 50.0) as (_emu, backend):
        targets = list(await backend.targets.select(Selector(names=("app-*",)), need_os=False))
        tallies: dict[str, ArmTally] = {}

        async def reads(name: str, count: int) -> None:
            with counting() as tally:
                tallies[name] = tally
                async with anyio.create_task_group() as tg:  # tasks it starts count too
                    for target in targets[:count]:
                        tg.start_soon(backend.run_commands.get, target, "fleet-none")

        before = backend.arm_counters().requests.get("reads", 0)
        async with anyio.create_task_group() as tg:
            tg.start_soon(reads, "three", 3)
            tg.start_soon(reads, "five", 5)
        after = backend.arm_counters().requests.get("reads", 0)
    assert tallies["three"].counters().requests == {"reads": 3}
    assert tallies["five"].counters().requests == {"reads": 5}
    assert after - before == 8

"""ARM clients for adapter tests against the emulator, wired as ``azure_backend`` wires them
(its retry budget, so the SDK's own re-sends are what a test sees), with a short backoff; and
fault injection through ``/_sim/faults``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fleet.azure.backend import RETRY_TOTAL
from fleet.azure.bucket_set import BucketSet
from fleet.azure.clients import ArmClients, ArmConnection, StaticTokenCredential
from fleet.azure.limits import ThrottleLimits
from fleet.azure.throttle_state import ThrottleState
from fleet.sim.emulator import Emulator
from tests import simkit


@asynccontextmanager
async def arm_clients(emu: Emulator) -> AsyncIterator[ArmClients]:
    throttle = ThrottleState(BucketSet(ThrottleLimits.published(0.9, time_scale=50)))
    conn = ArmConnection(
        StaticTokenCredential(emu.token), endpoint=emu.info.endpoint, ca_cert=emu.info.ca_cert,
        throttle=throttle,
        client_kwargs={"retry_total": RETRY_TOTAL, "retry_backoff_factor": 0.01},
    )  # fmt: skip
    async with ArmClients(conn) as clients:
        yield clients


async def set_faults(emu: Emulator, faults: dict[str, Any]) -> None:
    async with simkit.raw(emu, token=None) as s, s.put("/_sim/faults", json=faults) as r:
        assert r.status == 200, await r.text()

"""ARM clients for adapter tests against the emulator, wired as ``azure_backend`` wires them
(its retry budget, so the SDK's own re-sends are what a test sees), with a short backoff;
fault injection through ``/_sim/faults``; a VM of the small profile to send to, and the
run-command invocation the send-once tests send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fleet.azure.backend import RETRY_TOTAL
from fleet.azure.bucket_set import BucketSet
from fleet.azure.clients import ArmClients, ArmConnection, StaticTokenCredential
from fleet.azure.limits import ThrottleLimits
from fleet.azure.throttle_state import ThrottleState
from fleet.model import (
    RUN_ID_PARAMETER,
    Invocation,
    Parameter,
    ScriptSource,
    SourceKind,
    Target,
    TargetKind,
)
from fleet.sim.emulator import Emulator
from tests import simkit

RG = "rg-small"  # the small profile's resource group
ONCE = Invocation(
    run_command="fleet-once",
    run_id="run-once",
    source=ScriptSource(SourceKind.INLINE, "echo once"),
    parameters=(Parameter(RUN_ID_PARAMETER, "run-once"),),
)


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


def small_vm(emu: Emulator, name: str = "app-01") -> Target:
    """A Linux VM of the small profile's resource group, as selection would find it."""
    sub = emu.info.subscriptions[0]
    return Target(
        id=simkit.vm_path(sub, RG, name), name=name, kind=TargetKind.VM, subscription=sub,
        resource_group=RG, location="eastus", os="linux",
    )  # fmt: skip


async def set_faults(emu: Emulator, faults: dict[str, Any]) -> None:
    async with simkit.raw(emu, token=None) as s, s.put("/_sim/faults", json=faults) as r:
        assert r.status == 200, await r.text()

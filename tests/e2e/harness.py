"""Run fleet's library API against an in-process emulator through the real SDK over HTTPS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fleet.api import Backend
from fleet.azure.backend import ConnectionSettings, OutputsFor, azure_backend
from fleet.azure.limits import ThrottleLimits
from fleet.model import Concurrency, JobSpec, ScriptSource, ScriptSpec, Secret, Selector, SourceKind
from fleet.sim.emulator import Emulator
from fleet.sim.profile import Profile


@asynccontextmanager
async def sim_backend(
    profile: Profile,
    time_scale: float,
    *,
    limits: ThrottleLimits | None = None,
    outputs: OutputsFor | None = None,
    **emu_kwargs: Any,
) -> AsyncIterator[tuple[Emulator, Backend]]:
    """``limits``: what fleet keeps to (default: Azure's published limits, time-scaled);
    ``outputs``: how jobs with ``output:`` reach blob storage; ``emu_kwargs``: for the emulator
    (``azurite=`` lets its agents write output blobs there)."""
    async with Emulator(profile, time_scale=time_scale, **emu_kwargs) as emu:
        settings = ConnectionSettings(
            arm_endpoint=emu.info.endpoint,
            ca_cert=emu.info.ca_cert,
            token=Secret(emu.token),
            subscriptions=tuple(emu.info.subscriptions),
            time_scale=time_scale,
            limits=limits,
        )
        async with azure_backend(settings, outputs=outputs) as backend:
            yield emu, backend


def job(
    name: str = "e2e", *, timeout_s: int = 120, script: str = "echo ok", **selector: Any
) -> JobSpec:
    return JobSpec(
        name=name,
        selector=Selector(**selector),
        script=ScriptSpec(default=ScriptSource(SourceKind.INLINE, script), timeout_s=timeout_s),
        concurrency=Concurrency(),
    )

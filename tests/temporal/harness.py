"""fleet on Temporal inside the test's process: an emulator, workers (each with a connection of
its own) and a client, all on the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import anyio
from temporalio.client import Client

from fleet.api import Backend
from fleet.azure.backend import ConnectionSettings, azure_backend
from fleet.model import Secret
from fleet.sim.emulator import Emulator
from fleet.sim.profile import Profile
from fleet.temporal.connection import connect
from fleet.temporal.worker import serve_worker, worker_plan
from tests.temporal.conftest import Space


@dataclass
class Fleet:
    emu: Emulator
    client: Client
    backend: Backend  # the client's own connection (to prepare plans)
    time_scale: float


def settings(emu: Emulator, time_scale: float) -> ConnectionSettings:
    return ConnectionSettings(
        arm_endpoint=emu.info.endpoint, ca_cert=emu.info.ca_cert, token=Secret(emu.token),
        subscriptions=tuple(emu.info.subscriptions), time_scale=time_scale,
    )  # fmt: skip


@asynccontextmanager
async def on_temporal(
    space: Space,
    profile: Profile,
    *,
    time_scale: float = 20,
    workers: int = 1,
    subscriptions: Sequence[Sequence[str]] | None = None,
) -> AsyncIterator[Fleet]:
    """``workers`` workers serving every subscription (or ``subscriptions[i]`` each)."""
    async with Emulator(profile, time_scale=time_scale) as emu, AsyncExitStack() as stack:
        conn = settings(emu, time_scale)
        backend = await stack.enter_async_context(azure_backend(conn))
        client = await connect(space.target, space.namespace)
        async with anyio.create_task_group() as tg:
            for i in range(workers):
                subs = emu.info.subscriptions if subscriptions is None else subscriptions[i]
                own = await stack.enter_async_context(azure_backend(conn))
                ready = anyio.Event()
                its_client = await connect(space.target, space.namespace)  # one per worker
                plan = worker_plan(subs, time_scale)
                tg.start_soon(serve_worker, its_client, own, plan, ready.set)
                await ready.wait()
            yield Fleet(emu, client, backend, time_scale)
            tg.cancel_scope.cancel()

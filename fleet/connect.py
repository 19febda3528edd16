"""Opening the backend a ``Connection`` names, for every caller (the CLI, ``fleet serve``): the
Azure emulator started in this process (``sim``), or ARM with the token from
``FLEET_ACCESS_TOKEN`` (custom endpoints) or ``DefaultAzureCredential``.

One backend is one connection: its clients, its throttle state and its ARM counters are shared
by every run that uses it (``fleet serve`` runs all its jobs on one). Given a writable journal,
its state directory keeps the throttle buckets across processes (``fleet.journal.buckets``:
shared with the identity's other fleet processes, remembered for a resume); not for ``--sim``,
whose emulator lives and dies with this process.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

from fleet.errors import SpecError
from fleet.model import Secret
from fleet.ports import Backend
from fleet.spec import Connection

if TYPE_CHECKING:
    from fleet.azure.backend import ConnectionSettings
    from fleet.journal import Journal
    from fleet.journal.buckets import BucketJournal

#: Told the profile and time scale when the emulator starts (the CLI shows a banner).
OnSim = Callable[[str, float], None]
#: Told the emulator's endpoint and CA certificate once it listens (its ``/_sim`` API).
OnEmulator = Callable[[str, str], None]


@asynccontextmanager
async def open_backend(
    connection: Connection,
    on_sim: OnSim | None = None,
    on_emulator: OnEmulator | None = None,
    *,
    journal: Journal | None = None,
) -> AsyncIterator[Backend]:
    """The backend of ``connection``: the embedded emulator (``sim``), or ARM with the token
    from ``FLEET_ACCESS_TOKEN`` (custom endpoints) or ``DefaultAzureCredential``; ``journal``
    (writable): where the throttle buckets are kept across processes."""
    from fleet.azure.backend import ConnectionSettings, azure_backend

    if connection.sim:
        async with emulated(connection, on_sim) as settings, azure_backend(settings) as backend:
            if on_emulator is not None:
                on_emulator(settings.arm_endpoint or "", settings.ca_cert or "")
            yield backend
        return
    token = os.environ.get("FLEET_ACCESS_TOKEN")
    settings = ConnectionSettings(
        cloud=connection.cloud,
        arm_endpoint=connection.arm_endpoint,
        ca_cert=connection.ca_cert,
        token=Secret(token) if token else None,
        subscriptions=connection.subscriptions,
        time_scale=connection.time_scale,
    )
    with _bucket_memory(journal) as memory:
        async with azure_backend(settings, memory=memory) as backend:
            yield backend


@contextmanager
def _bucket_memory(journal: Journal | None) -> Iterator[BucketJournal | None]:
    if journal is None or not journal.writable:
        yield None
        return
    from fleet.journal.buckets import BucketJournal

    with BucketJournal(journal.state_dir) as memory:
        yield memory


@asynccontextmanager
async def emulated(
    connection: Connection, on_sim: OnSim | None = None
) -> AsyncIterator[ConnectionSettings]:
    """The emulator ``--sim`` starts in-process, and the settings to reach it."""
    from fleet.azure.backend import ConnectionSettings
    from fleet.sim import catalog
    from fleet.sim.emulator import Emulator
    from fleet.sim.profile import ProfileError

    ref = connection.profile or "demo"
    try:
        profile = catalog.load(ref)
    except ProfileError as exc:
        raise SpecError(str(exc)) from exc
    scale = connection.time_scale
    if on_sim is not None:
        on_sim(ref, scale)
    async with Emulator(profile, time_scale=scale) as emu:
        yield ConnectionSettings(
            arm_endpoint=emu.info.endpoint,
            ca_cert=emu.info.ca_cert,
            token=Secret(emu.token),
            subscriptions=connection.subscriptions or tuple(emu.info.subscriptions),
            time_scale=scale,
            simulated=True,
        )

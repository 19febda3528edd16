"""Opening the backend a ``Connection`` names, for every caller (the CLI, ``fleet serve``): the
Azure emulator started in this process (``sim``), or ARM with the token from
``FLEET_ACCESS_TOKEN`` (custom endpoints) or ``DefaultAzureCredential`` — and how jobs with
output storage reach their blob container (``fleet.storage``): with ``--sim`` an Azurite
started for the run stands in for every job's account; on a cloud, Azure AD (user delegation
SAS) or ``FLEET_STORAGE_KEY``; behind a custom ARM endpoint, keys only (its token is not a
storage token), the endpoint's CA from ``FLEET_STORAGE_CA_CERT``.

One backend is one connection: its clients, its throttle state and its ARM counters are shared
by every run that uses it (``fleet serve`` runs all its jobs on one). Given a writable journal,
its state directory keeps the throttle buckets across processes (``fleet.journal.buckets``:
shared with the identity's other fleet processes, remembered for a resume); not for ``--sim``,
whose emulator lives and dies with this process.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from fleet.errors import SpecError
from fleet.model import OutputSpec, Secret
from fleet.ports import Backend
from fleet.spec import Connection

if TYPE_CHECKING:
    from fleet.azure.backend import ConnectionSettings, OutputsFor
    from fleet.journal import Journal
    from fleet.journal.buckets import BucketJournal
    from fleet.sim.azurite import AzuriteInfo

#: The CA to trust for an output storage endpoint of one's own (an Azurite of `fleet sim serve
#: --azurite`); Azure's public endpoints need none.
STORAGE_CA_ENV = "FLEET_STORAGE_CA_CERT"

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
    output: OutputSpec | None = None,
) -> AsyncIterator[Backend]:
    """The backend of ``connection``: the embedded emulator (``sim``), or ARM with the token
    from ``FLEET_ACCESS_TOKEN`` (custom endpoints) or ``DefaultAzureCredential``; ``journal``
    (writable): where the throttle buckets are kept across processes; ``output``: the job's
    output storage (with ``sim``, an Azurite is started for it, and stopped)."""
    from fleet.azure.backend import ConnectionSettings, azure_backend

    if connection.sim:
        async with (
            _local_azurite(output is not None) as azurite,
            emulated(connection, on_sim, azurite) as settings,
            azure_backend(settings, outputs=storage_for(azurite)) as backend,
        ):
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
    outputs = storage_for(None, aad=connection.arm_endpoint is None)
    with _bucket_memory(journal) as memory:
        async with azure_backend(settings, memory=memory, outputs=outputs) as backend:
            yield backend


def storage_for(azurite: AzuriteInfo | None, *, aad: bool = False) -> OutputsFor:
    """How output containers are opened: an Azurite's (``sim``: every job's account is
    replaced by it, its container made), else the job's own account — with Azure AD on a cloud
    (``aad``), with keys behind a custom ARM endpoint."""
    from fleet.storage.factory import output_store_factory

    if azurite is not None:
        return lambda _credential: output_store_factory(
            ca_cert=azurite.ca_cert, account_url=azurite.account_url, create_container=True
        )
    ca_cert = os.environ.get(STORAGE_CA_ENV) or None
    return lambda credential: output_store_factory(credential if aad else None, ca_cert=ca_cert)


@asynccontextmanager
async def _local_azurite(wanted: bool) -> AsyncIterator[AzuriteInfo | None]:
    """An Azurite on 127.0.0.1 for ``sim`` (HTTPS, in memory), stopped on the way out."""
    if not wanted:
        yield None
        return
    from fleet.sim.azurite import Azurite
    from fleet.util.procs import ServiceError

    with tempfile.TemporaryDirectory(prefix="fleet-azurite-") as workdir:
        service = Azurite(Path(workdir))
        try:
            info = await anyio.to_thread.run_sync(service.start)
        except ServiceError as exc:
            message = f"output storage for --sim needs Azurite: {exc}"
            raise SpecError(message) from exc
        try:
            yield info
        finally:
            await anyio.to_thread.run_sync(service.stop)


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
    connection: Connection, on_sim: OnSim | None = None, azurite: AzuriteInfo | None = None
) -> AsyncIterator[ConnectionSettings]:
    """The emulator ``--sim`` starts in-process, and the settings to reach it; ``azurite``:
    where its agents write output blobs."""
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
    async with Emulator(profile, time_scale=scale, azurite=azurite) as emu:
        yield ConnectionSettings(
            arm_endpoint=emu.info.endpoint,
            ca_cert=emu.info.ca_cert,
            token=Secret(emu.token),
            subscriptions=connection.subscriptions or tuple(emu.info.subscriptions),
            time_scale=scale,
            simulated=True,
        )

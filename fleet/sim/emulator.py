"""Start and stop an emulator: in the current event loop (``Emulator``), in a background thread
with its own loop (``EmulatorThread``, for synchronous callers), or as the foreground process of
``fleet sim serve`` (``serve``), which prints one JSON line once ready and exits 0 on
SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from fleet.sim.azurite import AzuriteInfo
from fleet.sim.blob_agent import BlobAccess
from fleet.sim.clock import SimClock
from fleet.sim.profile import Profile, load_profile
from fleet.sim.server import Server
from fleet.sim.tls import make_server_tls
from fleet.sim.world import World


@dataclass(frozen=True)
class EmulatorInfo:
    """What a client needs: the ARM endpoint, the CA to trust, the subscriptions, the time scale
    and, when the emulator runs with an Azurite, that storage account (``storage``: its
    ``account_url``, ``ca_cert``, ``account_name`` and the well-known development
    ``account_key``, which is public)."""

    endpoint: str
    ca_cert: str
    subscriptions: list[str]
    time_scale: float
    storage: dict[str, str | None] | None = None

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps(data, separators=(", ", ": "))


def blob_access(azurite: AzuriteInfo | None) -> BlobAccess:
    """How agents reach storage: an Azurite's CA and key (its account), else the system CAs."""
    if azurite is None:
        return BlobAccess()
    keys = {azurite.account_url: (azurite.account_name, azurite.account_key)}
    return BlobAccess(ca_cert=azurite.ca_cert, identity_keys=keys)


def storage_info(azurite: AzuriteInfo) -> dict[str, str | None]:
    return {
        "account_url": azurite.account_url,
        "ca_cert": azurite.ca_cert,
        "account_name": azurite.account_name,
        "account_key": azurite.account_key,
    }


class Emulator:
    """An emulator serving HTTPS on 127.0.0.1 inside the running asyncio loop.

    ``async with Emulator(profile, time_scale=50) as emu:`` then use ``emu.info`` (endpoint, CA),
    ``emu.token`` (the first principal's bearer token) and ``emu.world`` (ground truth).
    """

    def __init__(
        self,
        profile: Profile | str | Path,
        *,
        time_scale: float = 1.0,
        seed: int | None = None,
        port: int = 0,
        workdir: Path | None = None,
        page_size: int = 1000,
        clock: SimClock | None = None,
        throttle_headers: str | None = None,
        azurite: AzuriteInfo | None = None,
    ) -> None:
        """``azurite``: a storage account the simulated VM agents can write output blobs to
        with their (simulated) managed identity, and whose CA they trust (``blob_agent``).
        ``clock`` replaces the real scaled clock (tests pass a ``ManualClock`` to step time by
        hand; ``time_scale`` is then ignored in favour of the clock's). ``throttle_headers``
        (``current``, ``windowed``, ``none``) overrides the profile's header dialect."""
        self.profile = profile if isinstance(profile, Profile) else load_profile(Path(profile))
        self._owns_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="fleet-sim-"))
        self.world = World.from_profile(
            self.profile,
            clock=clock if clock is not None else SimClock(time_scale),
            seed=seed,
            page_size=page_size,
            exec_dir=self.workdir / "exec",
            header_dialect=throttle_headers,
            blob_access=blob_access(azurite),
        )
        self._azurite = azurite
        self._port = port
        self._runner: web.AppRunner | None = None
        self._info: EmulatorInfo | None = None

    @property
    def info(self) -> EmulatorInfo:
        if self._info is None:
            raise RuntimeError("the emulator is not started")
        return self._info

    @property
    def token(self) -> str:
        return self.world.principals[0].token

    async def start(self) -> EmulatorInfo:
        tls = make_server_tls(self.workdir / "tls")
        server = Server(self.world)
        self._runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, "127.0.0.1", self._port, ssl_context=tls.context, backlog=1024
        )
        await site.start()
        port = self._runner.addresses[0][1]
        server.base_url = f"https://127.0.0.1:{port}"
        subs = [s.id for s in self.world.inventory.subscriptions.values()]
        storage = None if self._azurite is None else storage_info(self._azurite)
        self._info = EmulatorInfo(
            server.base_url, str(tls.ca_cert), subs, self.world.clock.time_scale, storage
        )
        return self._info

    async def stop(self) -> None:
        if self.world.exec_runner is not None:
            await self.world.exec_runner.aclose()
        if self.world.blob_agent is not None:
            await self.world.blob_agent.aclose()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class EmulatorThread:
    """An :class:`Emulator` running in a daemon thread with its own event loop."""

    def __init__(self, profile: Profile | str | Path, **kwargs: Any) -> None:
        self.emulator = Emulator(profile, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="fleet-sim"
        )

    def start(self) -> EmulatorInfo:
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self.emulator.start(), self._loop).result(30)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.emulator.stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> EmulatorThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _serve(emulator: Emulator, out: IO[str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        info = await emulator.start()
        out.write(info.to_json() + "\n")
        out.flush()
        await stop.wait()
    finally:
        await emulator.stop()


def serve(emulator: Emulator, out: IO[str] = sys.stdout) -> int:
    """Run until SIGINT/SIGTERM; print the ready line to ``out``; return the exit code (0)."""
    asyncio.run(_serve(emulator, out))
    return 0

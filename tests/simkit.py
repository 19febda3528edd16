"""Test helpers for talking to an in-process emulator: real SDK clients and a raw HTTPS session.

Raw requests are for what the SDK hides (exact headers, status codes, malformed bodies); every
behaviour a user depends on is also exercised through the real SDK clients.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from azure.core.pipeline.policies import AsyncRetryPolicy

from fleet.azure.clients import ArmClients, ArmConnection, StaticTokenCredential
from fleet.sim import catalog
from fleet.sim.emulator import Emulator
from fleet.sim.profile import Profile, parse_profile

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "fleet" / "sim" / "profiles"  # the built-in profiles (package data)
# Copied verbatim from ../shared/azure-reference so the suite is self-contained in a clone.
REFERENCE = ROOT / "tests" / "fixtures" / "azure-reference"

COMPUTE_API = "2025-04-01"
RESOURCES_API = "2025-04-01"


def profile(name: str = "small", **changes: Any) -> Profile:
    """A built-in profile, optionally with top-level sections replaced (``faults={...}``)."""
    loaded = catalog.load(name)
    if not changes:
        return loaded
    data = loaded.model_dump(mode="json", exclude_unset=True)
    data.update(changes)
    return parse_profile(data, source=f"{name}.yaml+changes")


@asynccontextmanager
async def clients(
    emu: Emulator, *, retries: bool = False, **kwargs: Any
) -> AsyncIterator[ArmClients]:
    """Real SDK clients for the emulator; SDK retries off unless ``retries`` (to see raw 429s)."""
    client_kwargs: dict[str, Any] = dict(kwargs)
    if not retries:
        client_kwargs.setdefault("retry_policy", AsyncRetryPolicy.no_retries())
    conn = ArmConnection(
        StaticTokenCredential(emu.token),
        endpoint=emu.info.endpoint,
        ca_cert=emu.info.ca_cert,
        client_kwargs=client_kwargs,
    )
    async with ArmClients(conn) as arm:
        yield arm


@asynccontextmanager
async def raw(emu: Emulator, token: str | None = "default") -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session against the emulator (base URL set, CA trusted, bearer token sent)."""
    ctx = ssl.create_default_context(cafile=emu.info.ca_cert)
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {emu.token if token == 'default' else token}"
    async with aiohttp.ClientSession(
        base_url=emu.info.endpoint,
        connector=aiohttp.TCPConnector(ssl=ctx),
        headers=headers,
    ) as session:
        yield session


async def ground_truth(emu: Emulator, what: str = "stats") -> dict[str, Any]:
    async with raw(emu, token=None) as s, s.get(f"/_sim/{what}") as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


def vm_path(sub: str, rg: str, vm: str) -> str:
    return (
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}"
    )


def fixed(seconds: float) -> dict[str, float]:
    """A profile distribution that always draws ``seconds`` (sigma 0)."""
    return {"median": seconds, "sigma": 0.0, "min": seconds, "max": seconds}


async def until(
    read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], within: float = 20.0
) -> Any:
    """Poll ``read`` until ``done(value)``; fail after ``within`` wall seconds."""
    with anyio.fail_after(within):
        while True:
            value = await read()
            if done(value):
                return value
            await anyio.sleep(0.05)

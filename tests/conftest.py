"""Shared fixtures: anyio on asyncio, and an in-process emulator of the small profile."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fleet.sim.emulator import Emulator
from tests import simkit

pytest_plugins = ["tests.services"]  # Azurite, Temporal, chromium: one per session, lazily


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiohttp and the throttle buckets (asyncio futures) are asyncio-only


@pytest.fixture
async def small_emu() -> AsyncIterator[Emulator]:
    """The small profile (20 targets) at time scale 50, fresh per test."""
    async with Emulator(simkit.profile("small"), time_scale=50) as emu:
        yield emu


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs() -> None:
    """structlog prints every event when unconfigured; tests want warnings only."""
    from fleet import logs

    logs.configure("warning", "console")


@pytest.fixture(autouse=True, scope="session")
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Runs are journaled by default: keep every test's journal (and its subprocesses') out of
    the user's data directory."""
    import os

    os.environ["FLEET_STATE_DIR"] = str(tmp_path_factory.mktemp("fleet-state"))


@pytest.fixture(autouse=True, scope="session")
def _no_user_config(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The developer's fleet config file and Azure subscription must not change what tests see
    (fleet reads ``$FLEET_CONFIG``, else the user config dir, and ``AZURE_SUBSCRIPTION_ID``)."""
    import os

    for name in ("FLEET_CONFIG", "AZURE_SUBSCRIPTION_ID"):
        os.environ.pop(name, None)
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config-home"))

"""pytest plugin: the real helper services, one instance per test session (registered by
``tests/conftest.py``).

Fixtures (session-wide unless said otherwise), each starting its service on first use only:

- ``azurite``: ``AzuriteInfo`` of an Azurite blob service over HTTPS (clients pass
  ``connection_verify=azurite.ca_cert``); in-memory, so tests use containers of their own.
- ``temporal_server``: ``TemporalInfo`` of a Temporal dev server (``target``, ``namespace``).
- ``chromium``: ``BrowserInfo`` of one headless chromium that every worker shares over CDP.
- ``browser`` (per test module): a Playwright sync ``Browser`` connected to it; ``page`` (per
  test): a page in a fresh browser context, closed after the test. The sync API leaves its own
  event loop marked as running in the thread between calls, so a module that uses ``page`` must
  not hold anyio tests too (use ``async_playwright`` with ``chromium.cdp_url`` there); scoping
  the Playwright connection to the module keeps other modules on the same worker unaffected.
- ``artifacts`` (per test): a directory under ``test-artifacts/`` (``FLEET_TEST_ARTIFACTS``
  overrides it) for screenshots and the like, kept after the session.

Sharing (tests/servicehub.py): the controller makes a directory and hands it to the workers
through ``workerinput``; whichever process asks first starts the service under a file lock; the
controller stops them all in ``pytest_unconfigure``, which also runs after failures and
interrupts (a session killed outright is cleaned up by the next one). A service that cannot
start fails the tests that need it with a message naming the missing setup step; it is never
skipped.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fleet.sim.azurite import Azurite, AzuriteInfo
from fleet.util.procs import ServiceError
from tests.chromium import BrowserInfo, start_chromium
from tests.servicehub import ServiceHub, Starter

if TYPE_CHECKING:
    from fleet.temporal.devserver import TemporalInfo

ROOT = Path(__file__).resolve().parents[1]
HUB = pytest.StashKey[ServiceHub]()
WORKER_KEY = "fleet_services_dir"


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and WORKER_KEY in workerinput:
        config.stash[HUB] = ServiceHub(Path(workerinput[WORKER_KEY]), owner=False)
    else:
        config.stash[HUB] = ServiceHub.create()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist (controller side): tell each worker where the session's services live."""
    node.workerinput[WORKER_KEY] = str(node.config.stash[HUB].directory)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    hub = config.stash.get(HUB, None)
    if hub is None:
        return
    for problem in hub.close():
        print(f"\nfleet test services: could not stop {problem}", file=sys.stderr)


def _service(request: pytest.FixtureRequest, name: str, start: Starter) -> dict[str, Any]:
    try:
        return request.config.stash[HUB].get(name, start)
    except ServiceError as exc:
        message = f"{name} could not start: {exc}"
    pytest.fail(message, pytrace=False)  # outside the except: no "during handling" chain


def _start_azurite(workdir: Path) -> tuple[dict[str, Any], object]:
    server = Azurite(workdir)
    return server.start().to_dict(), server


def _start_temporal(workdir: Path) -> tuple[dict[str, Any], object]:
    from fleet.temporal.devserver import TemporalDevServer  # the optional extra

    server = TemporalDevServer(workdir)
    return server.start().to_dict(), server


def _start_chromium(workdir: Path) -> tuple[dict[str, Any], object]:
    proc, info = start_chromium(workdir)
    return info.to_dict(), proc


@pytest.fixture(scope="session")
def azurite(request: pytest.FixtureRequest) -> AzuriteInfo:
    return AzuriteInfo.from_dict(_service(request, "azurite", _start_azurite))


@pytest.fixture(scope="session")
def temporal_server(request: pytest.FixtureRequest) -> TemporalInfo:
    """Skipped, saying so, only when the optional extra ``fleet[temporal]`` is not installed
    (``make install`` and CI install it); any other failure to start fails the tests."""
    from fleet.temporal.devserver import TemporalInfo, extra_missing

    missing = extra_missing()
    if missing is not None:
        pytest.skip(f"{missing}: pip install 'fleet[temporal]' (make install does)")
    return TemporalInfo.from_dict(_service(request, "temporal", _start_temporal))


@pytest.fixture(scope="session")
def chromium(request: pytest.FixtureRequest) -> BrowserInfo:
    return BrowserInfo.from_dict(_service(request, "chromium", _start_chromium))


@pytest.fixture(scope="module")
def browser(chromium: BrowserInfo) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        connected = playwright.chromium.connect_over_cdp(chromium.cdp_url)
        yield connected
        connected.close()  # over CDP: drops our contexts and disconnects; chromium lives on
    finally:
        playwright.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    root = Path(os.environ.get("FLEET_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    directory = root / request.node.path.stem / name
    directory.mkdir(parents=True, exist_ok=True)
    return directory

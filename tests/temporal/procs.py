"""fleet on Temporal as an operator runs it: ``fleet sim serve`` (the emulator), ``fleet worker``
processes and ``fleet run/show/resume --temporal``, each a process of its own that a test can
SIGKILL. The Temporal dev server is the session's (``temporal_server``), a namespace per test."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.e2e.killkit import FLEET, ROOT, Served, fleet_env
from tests.temporal.conftest import Space


def slow_pair(directory: Path, duration_s: int = 60) -> Path:
    """The built-in ``pair`` profile with scripts that take about ``duration_s`` (Azure)."""
    text = (ROOT / "fleet/sim/profiles/pair.yaml").read_text()
    old = "duration: {median: 6, sigma: 0.4, min: 2, max: 60}"
    assert old in text
    path = directory / "pair-slow.yaml"
    path.write_text(text.replace(old, f"duration: {{median: {duration_s}, sigma: 0.2, min: 5}}"))
    return path


def connection(emu: Served, time_scale: float) -> list[str]:
    return [
        "--arm-endpoint", emu.endpoint, "--ca-cert", emu.ca_cert,
        "--time-scale", str(time_scale),
    ]  # fmt: skip


def on(space: Space) -> list[str]:
    return ["--temporal", space.target, "--namespace", space.namespace]


@contextmanager
def worker(
    space: Space,
    emu: Served,
    time_scale: float,
    subscriptions: Sequence[str],
    state: Path,
    failpoint: str | None = None,
) -> Iterator[subprocess.Popen[str]]:
    """A ``fleet worker`` process, once it polls its queues; stopped (SIGTERM) at the end if
    the test did not kill it. ``failpoint``: it kills itself there (``fleet.util.failpoints``)."""
    subs = [a for s in subscriptions for a in ("--subscription", s)]
    proc = subprocess.Popen(
        [*FLEET, "worker", *on(space), *connection(emu, time_scale), *subs],
        cwd=ROOT, env=fleet_env(state, failpoint), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "no ready line"
        assert json.loads(line)["worker"]["queues"]
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def fleet(
    args: Sequence[str], state: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLEET, *args], cwd=ROOT, env=fleet_env(state), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def start(args: Sequence[str], state: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*FLEET, *args], cwd=ROOT, env=fleet_env(state), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def run_id_from(proc: subprocess.Popen[str], timeout: float = 120) -> str:
    """Read a run's stderr up to its ``run id:`` line (printed once the workflow started)."""
    assert proc.stderr is not None
    seen, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"it ended before starting a run: {seen}")
        seen += line
        if "run id:" in line:
            return line.split("run id:")[1].split()[0]
    raise AssertionError(f"no run id within {timeout} s: {seen}")


def wait_for(what: str, check: Any, timeout: float = 120, every: float = 0.2) -> Any:
    """Poll ``check()`` until it returns something true; its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout} s")


def outcomes(document: dict[str, Any]) -> dict[str, tuple[str, int | None]]:
    return {t["id"].lower(): (t["status"], t["exit_code"]) for t in document["targets"]}


def job_file(directory: Path, name: str, extra: str = "") -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(
        f"name: {name}\ntargets: {{all: true}}\n"
        f"script:\n  inline: echo checking\n  timeout: 600\n{extra}"
    )
    return path

"""Running the real ``fleet`` command in a subprocess, as an operator would, with an environment
that holds nothing of the developer's own (no token, no subscription, no user config file), and
the checks every failure must pass: a short message, no traceback, the documented exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.simkit import ROOT

FLEET = [sys.executable, "-m", "fleet.cli.main"]
_PRIVATE = ("FLEET_ACCESS_TOKEN", "AZURE_SUBSCRIPTION_ID", "FLEET_CONFIG", "FLEET_DEBUG")


def clean_env(**extra: str) -> dict[str, str]:
    """The test session's environment without credentials or config, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _PRIVATE}
    env["COLUMNS"] = "160"  # stderr's wrapping must not depend on the caller's terminal
    env.update(extra)
    return env


def fleet(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    timeout: float = 240,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLEET, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env=env if env is not None else clean_env(), input=stdin,
    )  # fmt: skip


def assert_short_failure(
    proc: subprocess.CompletedProcess[str], code: int, *needles: str, max_lines: int = 2
) -> None:
    """Exit ``code``, no traceback, at most ``max_lines`` lines after the SIMULATED banner, and
    every needle in stderr."""
    err = proc.stderr
    assert proc.returncode == code, (proc.returncode, err)
    assert "Traceback" not in err and "Exception Group" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    if "SIMULATED FLEET" in err:
        lines = lines[lines.index(next(x for x in lines if x.startswith("╰"))) + 1 :]
    assert 1 <= len(lines) <= max_lines, err
    for needle in needles:
        assert needle in err, (needle, err)


@dataclass
class Served:
    endpoint: str
    ca_cert: str
    subscription: str

    def args(self, *, ca: bool = True) -> list[str]:
        """The connection flags of a run against this emulator."""
        flags = ["--arm-endpoint", self.endpoint, "--subscription", self.subscription]
        return [*flags, "--ca-cert", self.ca_cert] if ca else flags

    def truth(self, what: str) -> dict[str, Any]:
        import ssl
        import urllib.request

        ctx = ssl.create_default_context(cafile=self.ca_cert)
        url = f"{self.endpoint}/_sim/{what}"
        with urllib.request.urlopen(url, context=ctx, timeout=20) as resp:
            return dict(json.loads(resp.read()))


@contextmanager
def served(profile: str | Path = "small", time_scale: float = 50) -> Iterator[Served]:
    """``fleet sim serve`` in its own process (it outlives the fleet processes under test)."""
    proc = subprocess.Popen(
        [*FLEET, "sim", "serve", "--profile", str(profile), "--time-scale", str(time_scale)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        yield Served(info["endpoint"], info["ca_cert"], info["subscriptions"][0])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

"""Running the real ``fleet`` command in a subprocess, as an operator would, with an environment
that holds nothing of the developer's own (no token, no subscription, no user config file), and
the checks every failure must pass: a short message, no traceback, the documented exit code.
An emulator in its own process: ``served`` (from the e2e tests' killkit)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.killkit import Served as Served  # the emulator process of the e2e tests
from tests.e2e.killkit import served as served
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

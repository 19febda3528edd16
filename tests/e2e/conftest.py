"""Fixtures of the kill-and-resume tests: per test module, an emulator in its own process and
the outcome of an uninterrupted run of the same job on it."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.e2e import killkit


@pytest.fixture(scope="module")
def emulator():  # type: ignore[no-untyped-def]
    """Identical PUTs re-run the script and some PUTs lose their answer after taking effect."""
    with killkit.served(faults=killkit.DROPPED_PUTS) as emu:
        yield emu


@pytest.fixture(scope="module")
def baseline(emulator, tmp_path_factory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("baseline")
    env = killkit.fleet_env(tmp / "state")
    proc = killkit.start_run(emulator, killkit.job_file(tmp, "baseline"), env)
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode in (0, 1), stderr
    run_id = killkit.run_id_of("baseline", env)
    report = tmp / "baseline.json"
    done = killkit.resume(run_id, env, report)  # an ended run cannot be resumed: exit 2
    assert done.returncode == 2 and "nothing to resume" in done.stderr
    shown = json.loads(
        subprocess.run(
            [*killkit.FLEET, "show", run_id, "-o", "json"], cwd=killkit.ROOT, env=env,
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
    )  # fmt: skip
    return {t["id"].lower(): (t["status"], t["exit_code"]) for t in shown["targets"]}

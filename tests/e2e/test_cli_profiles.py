"""``--profile`` as a user gives it: a built-in name or a path, from a directory that is not the
checkout (the profiles are package data, nothing is read relative to the current directory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.spec import Connection
from tests.simkit import PROFILES

pytestmark = pytest.mark.e2e

FLEET = [sys.executable, "-m", "fleet.cli.main"]
TWO_VMS = ["-n", "app-01", "-n", "app-02", "--script", "uptime", "--time-scale", "50", "--yes"]


def fleet(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run([*FLEET, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=240)  # fmt: skip


def test_run_sim_with_a_built_in_name_from_another_directory(tmp_path: Path) -> None:
    proc = fleet(tmp_path, "run", "--sim", "--profile", "small", *TWO_VMS, "--report", "r.json")
    assert proc.returncode == 0, proc.stderr
    assert "profile small" in proc.stderr  # the SIMULATED FLEET banner
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["total"] == 2


def test_run_sim_with_a_relative_profile_path(tmp_path: Path) -> None:
    text = (PROFILES / "small.yaml").read_text().replace("name: small", "name: mine", 1)
    (tmp_path / "fleets").mkdir()
    (tmp_path / "fleets" / "mine.yaml").write_text(text)
    proc = fleet(tmp_path, "run", "--sim", "--profile", "fleets/mine.yaml", *TWO_VMS)
    assert proc.returncode == 0, proc.stderr
    assert "profile fleets/mine.yaml" in proc.stderr


def test_sim_profiles_lists_the_built_ins_and_unknown_names_exit_2(tmp_path: Path) -> None:
    listed = fleet(tmp_path, "sim", "profiles")
    assert listed.returncode == 0, listed.stderr
    for name in ("demo", "small", "large", "bench-2k", "bench-10k", "bench-quick"):
        assert f"│ {name} " in listed.stdout
    bad = fleet(tmp_path, "sim", "inventory", "--profile", "smal")
    assert bad.returncode == 2
    assert "no built-in profile called 'smal'" in bad.stderr and "small" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = fleet(tmp_path, "run", "--sim", "--profile", "nope.yaml", *TWO_VMS)
    assert missing.returncode == 2 and "nope.yaml" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_the_recipe_keeps_a_name_and_makes_a_path_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``fleet resume`` replays the recipe from wherever it is started."""
    monkeypatch.chdir(tmp_path)
    assert Connection.from_flags({"sim": True, "profile": "demo"}).profile == "demo"
    recorded = Connection.from_flags({"sim": True, "profile": "fleets/mine.yaml"}).profile
    assert recorded == str(tmp_path.resolve() / "fleets" / "mine.yaml")

"""Scenario resolution: built-in names (package data) or paths, the profile a scenario names,
and where results go by default (the checkout's bench/results, or nowhere when installed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.bench import harness
from fleet.bench.scenario import SCENARIOS, ScenarioError, load_scenario
from fleet.cli.main import app
from fleet.sim import catalog
from tests.simkit import ROOT

BUILT_IN = [
    "mixed-10k", "quick", "spent-bucket", "throttle-current", "throttle-none", "throttle-windowed",
    "vms-2k",
]  # fmt: skip


def test_built_in_scenarios_load_by_name_and_name_built_in_profiles() -> None:
    assert SCENARIOS.names() == BUILT_IN
    for name in BUILT_IN:
        scenario = load_scenario(name)
        assert scenario.name == name and scenario.source == name
        assert catalog.is_name(scenario.profile)
        assert catalog.load(scenario.profile).name == scenario.profile
    assert load_scenario("quick").profile == "bench-quick"


def test_a_scenario_path_resolves_its_profile_path_from_the_scenario_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "s.yaml").write_text("name: s\nprofile: fleets/p.yaml\ntime_scale: 5\nseed: 1\n")
    (folder / "b.yaml").write_text("name: b\nprofile: small\ntime_scale: 5\nseed: 1\n")
    monkeypatch.chdir(tmp_path)
    scenario = load_scenario("mine/s.yaml")
    assert scenario.profile == str(folder.resolve() / "fleets" / "p.yaml")
    assert scenario.source == "mine/s.yaml"
    assert load_scenario(Path("mine/b.yaml")).profile == "small"  # a built-in profile name


def test_an_unknown_scenario_name_lists_the_built_ins() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("quik")
    assert "'quik'" in str(info.value) and all(n in str(info.value) for n in BUILT_IN)


def test_results_default_to_the_checkouts_bench_results() -> None:
    assert harness.default_results_dir() == ROOT / "bench" / "results"


def test_an_installed_fleet_has_no_default_results_dir(tmp_path: Path) -> None:
    assert harness.default_results_dir(tmp_path) is None  # site-packages: no pyproject, no bench/
    (tmp_path / "bench" / "results").mkdir(parents=True)
    assert harness.default_results_dir(tmp_path) is None  # not a checkout without pyproject.toml


def test_installed_fleet_bench_refuses_to_start_without_results_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "CHECKOUT", tmp_path)  # as if fleet lived in site-packages
    ran: list[object] = []
    monkeypatch.setattr(harness, "run_scenario", lambda *a, **kw: ran.append(a))
    result = CliRunner().invoke(app, ["bench", "quick"])
    assert result.exit_code == 2
    assert "--results-dir" in result.output and ran == []


def test_fleet_bench_names_unknown_scenarios_and_help_lists_the_built_ins() -> None:
    env = {**os.environ, "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "fleet.cli.main", "bench"]
    bad = subprocess.run([*cmd, "quik"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "no built-in scenario called 'quik'" in bad.stderr
    assert "Traceback" not in bad.stderr
    shown = subprocess.run([*cmd, "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert all(name in shown.stdout for name in BUILT_IN)

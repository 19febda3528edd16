"""Script outcome model: deterministic per VM, varied across VMs, realistic output."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from fleet.sim.inventory import build_inventory
from fleet.sim.model import SimVm
from fleet.sim.outcomes import OutcomeModel, first_line
from fleet.sim.profile import Profile, load_profile, parse_profile
from fleet.sim.profile_sections import PLACEHOLDERS

CONFIGS = Path(__file__).resolve().parents[2] / "fleet" / "sim" / "profiles"
SCRIPT = "#!/bin/bash\n\nsudo /opt/health/check.sh --all\n"
JOBS = Path(__file__).resolve().parents[2] / "configs" / "jobs" / "scripts"
HEALTH = (JOBS / "health-check.sh").read_text()  # recognised: the profile's health outcomes


@pytest.fixture(scope="module")
def demo() -> tuple[Profile, list[SimVm]]:
    profile = load_profile(CONFIGS / "demo.yaml")
    return profile, build_inventory(profile).all_targets()


def _by_name(vms: list[SimVm], name: str) -> SimVm:
    return next(vm for vm in vms if vm.name == name)


def test_same_inputs_same_plan(demo: tuple[Profile, list[SimVm]]) -> None:
    profile, vms = demo
    first, second = OutcomeModel(profile, 42), OutcomeModel(profile, 42)
    for vm in vms[:50]:
        assert first.plan(vm, HEALTH, 1) == second.plan(vm, HEALTH, 1)


def test_output_varies_by_vm(demo: tuple[Profile, list[SimVm]]) -> None:
    profile, vms = demo
    model = OutcomeModel(profile, 42)
    outputs = [model.plan(vm, HEALTH, 1).output for vm in vms if vm.os == "linux"]
    assert len(set(outputs)) == len(outputs)
    text = model.plan(_by_name(vms, "web-001"), HEALTH, 1).output
    assert "web-001" in text
    assert re.search(r"up (\d+ days?, )?\d+:\d\d", text)
    assert re.search(r"\d+\.\d\d, \d+\.\d\d, \d+\.\d\d", text)
    assert re.search(r"kernel \d+\.\d+\.\d+-", text)
    assert re.search(r"10\.\d+\.\d+\.\d+", text)


def test_windows_vms_get_windows_output(demo: tuple[Profile, list[SimVm]]) -> None:
    profile, vms = demo
    run = OutcomeModel(profile, 42).plan(_by_name(vms, "app-win-01"), HEALTH, 1)
    assert "Windows Server" in run.output and "build 10.0." in run.output


def test_facts_stable_across_runs_durations_not(demo: tuple[Profile, list[SimVm]]) -> None:
    profile, vms = demo
    model = OutcomeModel(profile, 42)
    runs = [model.plan(vms[0], HEALTH, seq) for seq in range(1, 6)]
    assert len({r.output for r in runs}) == 1
    assert len({r.duration_s for r in runs}) == 5


def test_forced_failures_are_stable_across_executions(demo: tuple[Profile, list[SimVm]]) -> None:
    profile, vms = demo
    model = OutcomeModel(profile, 42)
    for name in ("web-005", "app-win-04", "ci-runner-11"):
        for seq in range(1, 4):
            run = model.plan(_by_name(vms, name), HEALTH, seq)
            assert (run.outcome, run.exit_code) == ("health-check/disk-full", 1)
            assert "full" in run.error
    counts = Counter(model.outcome_class(vm) for vm in vms)
    assert counts == {"ok": 195, "disk-full": 3, "service-down": 2}


def test_drawn_failures_stick_to_the_same_vms() -> None:
    profile = load_profile(CONFIGS / "large.yaml")
    vms = build_inventory(profile).all_targets()[:2000]
    model = OutcomeModel(profile, 1)
    failing = {vm.name for vm in vms if model.plan(vm, HEALTH, 1).exit_code != 0}
    assert 5 <= len(failing) <= 50  # 1% of 2,000
    for seq in (2, 3):
        assert {vm.name for vm in vms if model.plan(vm, HEALTH, seq).exit_code != 0} == failing
    other_seed = OutcomeModel(profile, 2)
    assert {vm.name for vm in vms if other_seed.outcome_class(vm) != "ok"} != failing


def test_durations_within_bounds(demo: tuple[Profile, list[SimVm]]) -> None:
    profile, vms = demo
    model = OutcomeModel(profile, 7)
    pending, duration = profile.script.pending, profile.script.duration
    runs = [model.plan(vm, HEALTH, seq) for vm in vms for seq in range(3)]
    assert all(pending.min <= r.pending_s <= pending.max for r in runs)
    assert all(duration.min <= r.duration_s <= duration.max for r in runs)
    medians = sorted(r.duration_s for r in runs)[len(runs) // 2]
    assert duration.median * 0.8 < medians < duration.median * 1.25


def test_outcome_duration_override_and_clamp() -> None:
    outcomes = [
        {"name": "slow", "duration": {"median": 500, "sigma": 2, "min": 400, "max": 450}},
    ]
    rg = {"name": "rg", "location": "eastus", "vms": [{"count": 20, "name": "v{i}"}]}
    data = {
        "name": "t",
        "subscriptions": [
            {"id": "1" * 8 + "-1111-1111-1111-" + "1" * 12, "name": "s", "resource_groups": [rg]}
        ],
        "script": {"outcomes": outcomes},
    }
    profile = parse_profile(data)
    model = OutcomeModel(profile, 0)
    for vm in build_inventory(profile).all_targets():
        assert 400 <= model.plan(vm, "", 0).duration_s <= 450


def test_default_templates_render_every_placeholder(demo: tuple[Profile, list[SimVm]]) -> None:
    profile, vms = demo
    model = OutcomeModel(profile, 42)
    extra = {"script_first_line": "x", "exit_code": "0", "run_command": "r", "parameters": "-"}
    facts = {**model.facts(vms[0]), **extra}
    assert facts.keys() == PLACEHOLDERS.keys()
    default = parse_profile({"name": "d", "subscriptions": profile.model_dump()["subscriptions"]})
    permission = OutcomeModel(default, 42)
    for vm in vms[:40]:
        run = permission.plan(vm, SCRIPT, 1)
        assert "{" not in run.output + run.error


def test_first_line_skips_shebang_and_blanks() -> None:
    assert first_line(SCRIPT) == "sudo /opt/health/check.sh --all"
    assert first_line("") == ""


def test_outcome_classes_set_at_run_time_then_given_back(demo: tuple[Profile, list[SimVm]]) -> None:
    """``PUT /_sim/outcomes``: a VM starts failing between two runs, then recovers."""
    profile, vms = demo
    model = OutcomeModel(profile, 42)
    healthy = next(vm for vm in vms if model.outcome_class(vm) == "ok" and vm.os == "linux")
    other = next(vm for vm in vms if vm is not healthy and model.outcome_class(vm) == "ok")
    before = model.plan(healthy, HEALTH, 1)
    model.force((healthy.name,), "disk-full")
    broken = model.plan(healthy, HEALTH, 2)
    assert (before.exit_code, broken.exit_code) == (0, 1)
    assert "disk-full" in broken.outcome and model.outcome_class(other) == "ok"
    model.force((healthy.name,), None)
    assert model.plan(healthy, HEALTH, 3).exit_code == 0
    assert model.forced() == [
        {"names": [healthy.name], "outcome": "disk-full"},
        {"names": [healthy.name], "outcome": None},
    ]
    with pytest.raises(ValueError, match="no outcome class 'melted'"):
        model.force(("x",), "melted")

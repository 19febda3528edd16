"""The outcome model follows the script: the shipped job scripts get fitting outputs, unknown
scripts a generic simulated echo, profiles may map their own scripts (by run-command name, marker
text or SHA-256), and the same odd VMs fail whatever runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fleet.sim import catalog
from fleet.sim.inventory import build_inventory
from fleet.sim.model import SimVm
from fleet.sim.outcomes import OutcomeModel
from fleet.sim.profile import Profile, ProfileError, parse_profile

ROOT = Path(__file__).resolve().parents[2]
JOBS = ROOT / "configs" / "jobs" / "scripts"
PATCH, ROTATE = (JOBS / "patch.sh").read_text(), (JOBS / "rotate-api-token.sh").read_text()
HEALTH_SH, HEALTH_PS1 = (
    (JOBS / "health-check.sh").read_text(),
    (JOBS / "health-check.ps1").read_text(),
)
SECRET = "tok-3f1c-never-echo"


@pytest.fixture(scope="module")
def demo() -> tuple[Profile, dict[str, SimVm]]:
    profile = catalog.load("demo")
    return profile, {vm.name: vm for vm in build_inventory(profile).all_targets()}


def linux_web(vms: dict[str, SimVm]) -> list[SimVm]:
    return [vm for name, vm in sorted(vms.items()) if name.startswith(("web-", "dev-", "ci-"))
            and vm.os == "linux"]  # fmt: skip


def test_health_check_scripts_keep_the_health_output(demo):
    profile, vms = demo
    model = OutcomeModel(profile, 42)
    linux = model.plan(vms["web-001"], HEALTH_SH, 1, name="fleet-health-check")
    assert "status:  OK" in linux.output and linux.outcome == "health-check/ok"
    windows = model.plan(vms["app-win-01"], HEALTH_PS1, 1, name="fleet-health-check")
    assert "Status   : OK" in windows.output and "Windows Server" in windows.output
    full = model.plan(vms["web-005"], HEALTH_SH, 1)
    assert (full.exit_code, "100% full" in full.error) == (1, True)


def test_patch_prints_package_updates_and_exits_100_on_a_share_of_vms(demo):
    profile, vms = demo
    model = OutcomeModel(profile, 42)
    runs = {vm.name: model.plan(vm, PATCH, 1, name="fleet-patch-wave-1") for vm in linux_web(vms)}
    healthy = {n: r for n, r in runs.items() if model.outcome_class(vms[n]) == "ok"}
    reboot = [n for n, r in healthy.items() if r.exit_code == 100]
    assert 0.2 < len(reboot) / len(healthy) < 0.4  # 30% of the healthy VMs, drawn per VM
    for name, run in healthy.items():
        rhel = "Red Hat" in model.facts(vms[name])["os"]
        updated = "Complete!" if rhel else "Calculating upgrade..."  # dnf or apt output
        assert updated in run.output and run.error == ""
        if name in reboot:
            assert run.output.endswith(f"{name}: patched; REBOOT REQUIRED\n")
            assert run.outcome == "patch/reboot-required"
        else:
            assert run.exit_code == 0 and run.output.endswith("patched; no reboot required\n")
    again = {n: model.plan(vms[n], PATCH, 2).exit_code for n in healthy}
    assert [n for n, code in again.items() if code == 100] == reboot  # stable per VM
    # A full disk: the package manager fails (apt-get with 100, its status on any error); the
    # script says so and exits 1, so a job that counts 100 as success still sees the failure.
    full = runs["web-005"]
    no_space = (
        "needs 212MB more space"
        if "Red Hat" in model.facts(vms["web-005"])["os"]
        else ("enough free space")
    )
    assert full.exit_code == 1 and no_space in full.error
    assert "ERROR: the package update failed on web-005 (status " in full.error


def test_remediation_shows_its_fix(demo):
    profile, vms = demo
    model = OutcomeModel(profile, 42)
    done = model.plan(vms["web-001"], ROTATE, 1, protected=("NEW_API_TOKEN",))
    assert done.exit_code == 0
    assert done.output == (
        "web-001: token rotated in /etc/storefront/api.env\nweb-001: nginx restarted and active\n"
    )
    down = model.plan(vms["db-03"], ROTATE, 1)  # nginx is down there
    assert down.exit_code == 1 and "Job for nginx.service failed" in down.error
    full = model.plan(vms["web-005"], ROTATE, 1)
    assert full.exit_code == 1 and "No space left on device" in full.error


def test_unknown_script_gets_a_generic_simulated_echo_without_secrets(demo):
    profile, vms = demo
    model = OutcomeModel(profile, 42)
    script = "#!/bin/sh\nsystemctl restart cron\necho $DB_PASSWORD\n"
    run = model.plan(
        vms["web-001"], script, 1, name="fleet-restart-cron", parameters=("FLEET_RUN_ID", "UNIT"),
        protected=("DB_PASSWORD",),
    )  # fmt: skip
    assert run.output == (
        "[simulated] web-001: run command 'fleet-restart-cron' accepted by the fleet emulator\n"
        "[simulated] script: systemctl restart cron\n"
        "[simulated] parameters: FLEET_RUN_ID, UNIT, DB_PASSWORD (protected)\n"
        "[simulated] nothing was executed on a real machine; this output is generated\n"
    )
    assert (run.exit_code, run.error, run.outcome) == (0, "", "generic/ok")
    failing = model.plan(vms["web-005"], script, 1, name="fleet-restart-cron")
    assert failing.exit_code == 1 and "No space left on device" in failing.error
    assert failing.error.startswith("[simulated] the script fails on this VM (class 'disk-full')")
    assert failing.output.startswith("[simulated] web-005:")


def test_the_same_odd_vms_fail_whatever_runs(demo):
    profile, vms = demo
    model = OutcomeModel(profile, 42)
    targets = [vm for vm in vms.values() if vm.os == "linux"]
    odd = {vm.name for vm in targets if model.outcome_class(vm) != "ok"}
    assert odd == {"web-005", "ci-runner-11", "db-03"} | {
        vm.name for vm in targets if vm.name in ("vmss-api_12",)
    }
    for script in (HEALTH_SH, "uptime", ROTATE):
        failed = {vm.name for vm in targets if model.plan(vm, script, 1).exit_code != 0}
        assert failed == odd, script
    patch_failed = {vm.name for vm in targets if model.plan(vm, PATCH, 1).error}
    assert patch_failed == {"web-005", "ci-runner-11"}  # nginx being down does not stop apt


def _profile(**script: object) -> Profile:
    rg = {"name": "rg", "location": "eastus", "vms": [{"count": 4, "name": "v{i}"}]}
    sub = {"id": "00000000-0000-4000-8000-000000000009", "name": "s", "resource_groups": [rg]}
    outcomes = [{"name": "ok", "output": "fallback\n"}]
    return parse_profile(
        {"name": "t", "subscriptions": [sub], "script": {"outcomes": outcomes, **script}}
    )


def test_profiles_map_their_own_scripts_by_name_marker_or_sha256():
    digest = hashlib.sha256(b"echo exact").hexdigest()
    profile = _profile(
        behaviours=[
            {"name": "by-name", "match": {"run_commands": ["fleet-deploy*"]},
             "outcomes": [{"name": "deployed", "vm_class": "ok", "output": "deployed\n"}]},
            {"name": "by-marker", "match": {"contains": ["# MARKER"]},
             "outcomes": [{"name": "marked", "vm_class": "ok", "exit_code": 7}]},
            {"name": "by-hash", "match": {"sha256": [digest.upper()]},
             "outcomes": [{"name": "exact", "vm_class": "ok", "output": "hash\n"}]},
        ]
    )  # fmt: skip
    model = OutcomeModel(profile, 1)
    vm = build_inventory(profile).all_targets()[0]
    assert model.plan(vm, "# MARKER\n", 1, name="FLEET-DEPLOY-app").output == "deployed\n"
    assert model.plan(vm, "x\n# MARKER\n", 1, name="other").exit_code == 7
    assert model.plan(vm, "echo exact", 1).output == "hash\n"
    assert model.plan(vm, "echo exact ", 1).output == "fallback\n"  # unknown: outcomes
    assert model.plan(vm, PATCH, 1).output == "fallback\n"  # own list: no built-ins


def test_builtins_can_be_turned_off_and_classes_are_checked():
    vm = build_inventory(_profile()).all_targets()[0]
    assert "REBOOT" not in OutcomeModel(_profile(behaviours=[]), 1).plan(vm, PATCH, 1).output
    assert "Calculating upgrade" in OutcomeModel(_profile(), 1).plan(vm, PATCH, 1).output
    with pytest.raises(ProfileError, match="no VM has class 'nope'"):
        _profile(behaviours=[{"name": "b", "match": {"contains": ["x"]},
                              "outcomes": [{"name": "nope"}]}])  # fmt: skip
    with pytest.raises(ProfileError, match="at least one of"):
        _profile(behaviours=[{"name": "b", "match": {}}])

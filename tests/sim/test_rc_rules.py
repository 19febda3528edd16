"""The run-command service's rules and ground truth, at the store level (no HTTP): the 25-per-VM
limit, identical PUTs that re-run, ``runAsUser`` accounts, who created and deleted what, PUT
counts, and run commands already on the VMs when the emulator starts."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.sim.clock import ManualClock
from fleet.sim.errors import ArmError
from fleet.sim.inventory import build_inventory
from fleet.sim.profile import parse_profile
from fleet.sim.profile_runcommands import ExistingRunCommands, RunCommandsSection
from fleet.sim.rc_ledger import fleet_marked
from fleet.sim.rc_rules import RunCommandRules, UserDirectory
from fleet.sim.rc_seed import seed_existing
from fleet.sim.runcommands import RunCommandStore
from tests.sim.test_runcommands import API, FakePlanner, body, iv, make_vm

LIMIT_MESSAGE = (
    "The maximum number of managed Run commands (max=25, current=25) has been exceeded. Use "
    "fewer Run commands and retry the request. To list Run commands, refer: "
    "https://aka.ms/RunCommandManaged#list-all-deployed-runcommand-resources-on-a-vm-1 and then "
    "delete a Run command: https://aka.ms/RunCommandManaged#delete-runcommand-resource-from-the-vm-1"
)
FLEET_TAGS = {"fleet-managed": "true", "fleet-job": "patch", "fleet-run-id": "r1"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def store_with(clock: ManualClock, **rules: Any) -> RunCommandStore:
    return RunCommandStore(clock, FakePlanner(), rules=RunCommandRules(**rules))


# -- the 25-per-VM limit -----------------------------------------------------------------------


def test_a_26th_run_command_is_refused_with_azures_message(clock):
    """MicrosoftDocs/azure-docs#117976 quotes the message; the status (409 OperationNotAllowed)
    is our choice, as Compute answers other limit refusals (core quota)."""
    store, vm = store_with(clock), make_vm()
    for i in range(25):
        store.put(vm, f"rc{i}", body(), api_version=API)
    with pytest.raises(ArmError) as refused:
        store.put(vm, "one-too-many", body(), api_version=API)
    assert (refused.value.status, refused.value.code) == (409, "OperationNotAllowed")
    assert refused.value.message == LIMIT_MESSAGE
    assert len(store.list(vm)) == 25 and store.get(vm, "one-too-many") is None
    assert store.put(vm, "rc3", body("echo update"), api_version=API).reexecuted  # updates are ok
    assert len(store.put(make_vm("other"), "rc", body(), api_version=API).run_command.name) > 0


def test_a_slot_frees_only_once_the_deletion_has_finished(clock):
    store, vm = store_with(clock, max_per_vm=2), make_vm()
    store.put(vm, "a", body(), api_version=API)
    store.put(vm, "b", body(), api_version=API)
    store.delete(vm, "a")
    with pytest.raises(ArmError) as refused:
        store.put(vm, "c", body(), api_version=API)
    assert "(max=2, current=2)" in refused.value.message  # still Deleting: it counts
    clock.advance(5)
    assert store.put(vm, "c", body(), api_version=API).created


# -- identical PUTs ----------------------------------------------------------------------------


def test_identical_put_reruns_when_the_rule_says_so(clock):
    """The pessimistic reading of MicrosoftDocs/azure-compute-docs PR #178."""
    store, vm = store_with(clock, identical_put_reruns=True), make_vm()
    store.put(vm, "rc1", body(), api_version=API)
    clock.advance(30)
    again = store.put(vm, "rc1", body(), api_version=API)
    assert (again.created, again.reexecuted) == (False, True)
    clock.advance(30)
    assert [e["seq"] for e in store.executions()] == [1, 2]
    assert store.stats()["executed_per_target"] == {vm.id: {"rc1": 2}}
    assert store.stats()["puts_applied_per_target"] == {vm.id: {"rc1": 2}}
    store.rules.identical_put_reruns = False  # switched mid-run (/_sim/settings)
    assert store.put(vm, "rc1", body(), api_version=API).reexecuted is False


# -- runAsUser ----------------------------------------------------------------------------------


def test_unknown_linux_run_as_user_fails_with_the_handlers_error(clock):
    """run-command-handler-linux exec.go: user.Lookup fails -> ExitCode_RunAsLookupUserFailed
    (-102) before the script runs; the handler already reported a startTime."""
    store, vm = store_with(clock), make_vm()
    store.put(vm, "rc1", body(runAsUser="bob"), api_version=API)
    clock.advance(10)
    view = iv(store, vm)
    assert (view["executionState"], view["exitCode"]) == ("Failed", -102)
    assert view["executionMessage"] == (
        "Execution failed: failed to execute command: Failed to lookup RunAs user 'bob'. Looks "
        "like user does not exist. For RunAs to work properly, contact admin of VM and make sure "
        "RunAs user is added on the VM and user has access to resources accessed by the Run "
        "Command (Directories, Files, Network etc.). Refer: "
        "https://aka.ms/RunCommandManagedLinux: user: unknown user bob"
    )
    assert "startTime" in view and view["output"] == ""
    [truth] = store.executions()
    assert (truth["state"], truth["started"]) == ("Failed", False)  # the script never ran


def test_known_users_per_os_and_per_vm(clock):
    extra = ((("db-*",), ("postgres",)),)
    store = store_with(clock, users=UserDirectory(extra=extra))
    linux, db, win = make_vm(), make_vm("db-01"), make_vm("win", os="windows")
    store.put(linux, "root", body(runAsUser="root"), api_version=API)
    store.put(linux, "azureuser", body(runAsUser="azureuser"), api_version=API)
    store.put(linux, "upper", body(runAsUser="Root"), api_version=API)  # Linux: case matters
    store.put(linux, "pg", body(runAsUser="postgres"), api_version=API)
    store.put(db, "pg", body(runAsUser="postgres"), api_version=API)
    store.put(win, "admin", body(runAsUser="administrator"), api_version=API)
    store.put(win, "bob", body(runAsUser="bob"), api_version=API)
    clock.advance(30)
    states = {
        (vm.name, rc.name): iv(store, vm, rc.name)["executionState"]
        for vm in (linux, db, win)
        for rc in store.list(vm)
    }
    assert states == {
        ("vm1", "root"): "Succeeded",
        ("vm1", "azureuser"): "Succeeded",
        ("vm1", "upper"): "Failed",
        ("vm1", "pg"): "Failed",
        ("db-01", "pg"): "Succeeded",
        ("win", "admin"): "Succeeded",
        ("win", "bob"): "Failed",
    }
    assert iv(store, win, "bob")["exitCode"] == 1326  # ERROR_LOGON_FAILURE (our convention)


# -- ground truth: creators, deletions, PUT counts ----------------------------------------------


def test_ledger_records_creators_deleters_and_fleets_marker(clock):
    store, vm = store_with(clock), make_vm()
    ours = {**body(), "tags": FLEET_TAGS}
    lookalike = {**body(), "tags": {"fleet-job": "patch"}}
    store.put(vm, "fleet-patch", ours, api_version=API, principal="operator")
    store.put(vm, "fleet-x", lookalike, api_version=API, principal="someone")
    clock.advance(3)
    store.delete(vm, "fleet-patch", principal="operator")
    store.delete(vm, "fleet-x", principal="operator")
    store.delete(vm, "fleet-x", principal="operator")  # a repeat is not a second deletion
    deleted = store.ledger.deletions()
    assert [(d["name"], d["created_by"], d["deleted_by"], d["fleet_marked"]) for d in deleted] == [
        ("fleet-patch", "operator", "operator", True),
        ("fleet-x", "someone", "operator", False),
    ]
    assert deleted[0]["deleted_at"] == 3 and deleted[0]["tags"] == FLEET_TAGS


@pytest.mark.parametrize(
    ("name", "tags", "marked"),
    [
        ("fleet-patch", FLEET_TAGS, True),
        ("FLEET-patch", {k.upper(): v for k, v in FLEET_TAGS.items()}, True),  # names: any case
        ("fleet-patch", {**FLEET_TAGS, "fleet-managed": "True"}, False),  # values: exact
        ("fleet-patch", {"fleet-managed": "true", "fleet-job": "patch"}, False),
        ("patch", FLEET_TAGS, False),
        ("fleet-x", {}, False),
    ],
)
def test_fleet_marker(name, tags, marked):
    assert fleet_marked(name, tags) is marked


# -- run commands already on the VMs ------------------------------------------------------------

PROFILE = {
    "name": "existing",
    "seed": 3,
    "subscriptions": [
        {
            "id": "00000000-0000-4000-8000-000000000001",
            "name": "s",
            "resource_groups": [
                {
                    "name": "rg",
                    "location": "eastus",
                    "vms": [
                        {"count": 10, "name": "web-{i:02d}"},
                        {"count": 4, "name": "db-{i:02d}"},
                    ],
                }
            ],
        }
    ],
}


def test_existing_run_commands_from_the_profile(clock):
    profile = parse_profile(PROFILE)
    vms = build_inventory(profile).all_targets()
    store = store_with(clock)
    entries = [
        ExistingRunCommands(names=["web-*"], count=3, created_by="backup-tool"),
        ExistingRunCommands(names=["web-*"], share=0.5, owner="fleet", count=2),
        ExistingRunCommands(names=["db-01"], name="fleet-x"),  # a look-alike, not fleet's
    ]
    placed = seed_existing(store, vms, entries, seed=3, fleet_principal="operator")
    assert placed == 10 * 3 + 5 * 2 + 1
    web = {vm.name: vm for vm in vms}
    per_vm = {name: store.list(vm) for name, vm in web.items()}
    assert all(len(per_vm[f"web-{i:02d}"]) in (3, 5) for i in range(1, 11))
    with_stale = [n for n, rcs in per_vm.items() if any(rc.name.startswith("fleet-") for rc in rcs)]
    assert len(with_stale) == 6  # 5 web (half of 10, apportioned) + db-01's look-alike
    stale = next(rc for rc in per_vm[with_stale[0]] if rc.name == "fleet-old-job-1")
    assert fleet_marked(stale.name, stale.spec.tags)
    assert stale.spec.tags["fleet-job"] == "old-job-1"
    assert store.ledger.origin(stale.vm.id, stale.name).created_by == "operator"
    [lookalike] = per_vm["db-01"]
    assert not fleet_marked(lookalike.name, lookalike.spec.tags)
    assert iv(store, lookalike.vm, "fleet-x")["executionState"] == "Succeeded"
    assert store.executions() == []  # not executions of this emulator's lifetime
    again = seed_existing(store_with(clock), vms, entries, seed=3, fleet_principal="operator")
    assert again == placed


def test_existing_ones_count_toward_the_limit(clock):
    profile = parse_profile(PROFILE)
    vm = next(v for v in build_inventory(profile).all_targets() if v.name == "web-01")
    store = store_with(clock)
    seed_existing(store, [vm], [ExistingRunCommands(count=25)], seed=1, fleet_principal="op")
    with pytest.raises(ArmError) as refused:
        store.put(vm, "fleet-new", body(), api_version=API)
    assert "(max=25, current=25)" in refused.value.message


def test_run_commands_section_validation():
    with pytest.raises(ValueError, match="fleet-"):
        ExistingRunCommands(owner="fleet", name="old-{i}")
    with pytest.raises(ValueError, match="run-command name"):
        ExistingRunCommands(name="bad name {i}")
    rules = RunCommandsSection(users=[{"names": ["a*"], "users": ["svc"]}]).rules()
    assert rules.users.users(make_vm("abc")) == ("root", "azureuser", "svc")

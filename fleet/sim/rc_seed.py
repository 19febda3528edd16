"""Run commands that are already on the VMs when the emulator starts (profile
``run_commands.existing``): other tools' run commands and stale ones of earlier fleet jobs.

Deterministic for a seed: each entry draws its share of the matching targets (apportioned, as
everywhere in the inventory) from its own RNG stream. Each run command finished ``age_s``
before the emulator started; it is listed, counts toward the per-VM limit and can be deleted,
but it is not an execution of this emulator's lifetime (``/_sim/executions`` leaves it out;
``/_sim/runcommands`` shows it, with its creator).
"""

from __future__ import annotations

import uuid

from fleet.sim.inventory import apportion, name_matches, seeded_rng
from fleet.sim.model import SimVm
from fleet.sim.profile_runcommands import ExistingRunCommands
from fleet.sim.rc_body import RunCommandSpec
from fleet.sim.rc_rules import RunCommandRules
from fleet.sim.rc_state import Execution
from fleet.sim.runcommands import RunCommandStore

_RUN_S = 8.0  # how long each of them ran, Azure-seconds


def seed_existing(
    store: RunCommandStore,
    targets: list[SimVm],
    entries: list[ExistingRunCommands],
    *,
    seed: int,
    fleet_principal: str,
) -> int:
    """Place every entry's run commands; return how many were placed."""
    placed = 0
    ordered = sorted(targets, key=lambda vm: vm.key)
    for index, entry in enumerate(entries):
        matching = [vm for vm in ordered if _matches(vm, entry)]
        rng = seeded_rng(seed, "existing-run-commands", index)
        flags = apportion(rng, {"y": entry.share, "n": 1.0 - entry.share}, len(matching))
        for vm, flag in zip(matching, flags, strict=True):
            if flag != "y":
                continue
            for i in range(1, entry.count + 1):
                run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                _place(store, vm, entry, i, run_id, fleet_principal)
                placed += 1
    return placed


def _matches(vm: SimVm, entry: ExistingRunCommands) -> bool:
    groups = {g.lower() for g in entry.resource_groups}
    in_group = not groups or vm.resource_group.lower() in groups
    return in_group and name_matches(vm.name, entry.names)


def _place(
    store: RunCommandStore,
    vm: SimVm,
    entry: ExistingRunCommands,
    i: int,
    run_id: str,
    fleet_principal: str,
) -> None:
    name = entry.pattern().format(i=i)
    tags = dict(entry.tags)
    parameters: tuple[tuple[str, str], ...] = ()
    if entry.owner == "fleet":
        job = name[len("fleet-") :]
        tags.update({"fleet-managed": "true", "fleet-job": job, "fleet-run-id": run_id})
        parameters = (("FLEET_RUN_ID", run_id),)
        by = entry.created_by or fleet_principal
    else:
        by = entry.created_by or "other-automation"
    spec = RunCommandSpec(
        location=vm.location, tags=tags, source={"script": entry.script}, parameters=parameters
    )
    ex = _finished(store.rules, vm, name, entry)
    store.adopt(vm, name, spec, ex, by)


def _finished(
    rules: RunCommandRules, vm: SimVm, name: str, entry: ExistingRunCommands
) -> Execution:
    failed = entry.state == "Failed"
    return Execution(
        target=vm.id,
        run_command=name,
        seq=1,
        created_at=-(entry.age_s + _RUN_S),
        timeout_s=None,
        duration_s=_RUN_S,
        exit_code=1 if failed else 0,
        output="done\n",
        error="failed\n" if failed else "",
        os=vm.os,
        vm_name=vm.name,
        refresh_s=rules.output_refresh_s,
        outcome="preexisting",
    )

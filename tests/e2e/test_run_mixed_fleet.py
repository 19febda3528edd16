"""The engine end to end on the demo fleet: per-target statuses equal the emulator's ground truth
and every launched target executed exactly once."""

from __future__ import annotations

import dataclasses

import pytest

from fleet import api
from fleet.engine.runner import EngineSettings
from fleet.model import RolloutPolicy, Status
from tests import simkit
from tests.e2e.harness import job, sim_backend

pytestmark = pytest.mark.anyio

SCALE = 40.0


def _expected(row: dict, outcome_of) -> set[Status]:  # type: ignore[no-untyped-def]
    if row["power_state"] != "running":
        return {Status.SKIPPED}
    if row["resource_group"].lower() == "rg-finance":
        return {Status.ACCESS_DENIED}
    if row["agent"] != "ready":
        return {Status.AGENT_NOT_READY}
    if row["script_fault"] == "wedged":
        return {Status.WEDGED}
    return {Status.SUCCEEDED} if outcome_of(row["name"]) == "ok" else {Status.FAILED}


async def test_demo_fleet_report_matches_ground_truth() -> None:
    profile = simkit.profile("demo", faults={})  # faults get their own tests; keep truth exact
    spec = job("mixed", timeout_s=60)
    # dead agents end at pending_timeout; Azure's own verdict (~25 min) has its own test
    spec = dataclasses.replace(spec, rollout=RolloutPolicy(pending_timeout_s=120))
    async with sim_backend(profile, SCALE) as (emu, backend):
        settings = EngineSettings(time_scale=SCALE, wedge_grace_s=30)
        report = await api.run_async(spec, backend, settings=settings)
        inventory = (await simkit.ground_truth(emu, "inventory"))["targets"]
        truth = await simkit.ground_truth(emu, "executions")
        stats = await simkit.ground_truth(emu)
    outcomes = {vm.name: emu_outcome for vm, emu_outcome in _outcome_classes(emu)}
    by_id = {r.target.id.lower(): r for r in report.results}
    assert len(report.results) == len(inventory) == 200
    for row in inventory:
        result = by_id[row["id"].lower()]
        assert result.status in _expected(row, outcomes.get), (row["name"], result)
    executed = truth["executed_per_target"]
    launched = [
        r for r in report.results if r.status in (Status.SUCCEEDED, Status.FAILED, Status.WEDGED)
    ]
    assert launched
    for result in launched:
        assert executed[result.target.id]["fleet-mixed"] == 1, result.target.name
    never = [r for r in report.results if r.status in (Status.SKIPPED, Status.ACCESS_DENIED)]
    for result in never:
        assert result.target.id not in executed, result.target.name
    failed = [r for r in report.results if r.status is Status.FAILED]
    assert {r.exit_code for r in failed} <= {1, 3, 126} and all(r.error for r in failed)
    assert stats["throttled_total"] == 0 and report.arm.throttled == 0


def _outcome_classes(emu):  # type: ignore[no-untyped-def]
    from fleet.sim.outcomes import OutcomeModel

    outcomes = OutcomeModel(emu.world.profile, emu.world.seed)
    for vm in emu.world.inventory.all_targets():
        yield vm, outcomes.outcome_class(vm)

"""The engine against real-Azure run-command semantics, end to end through the real SDK over HTTPS
to the emulator (issue #9): the 25-per-VM limit with other tools' run commands on the VM, what
fleet deletes (ground truth: who created and who deleted each run command), Linux and Windows
timeouts, in-flight instance views, and dead agents."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from fleet import api
from fleet.engine.runner import EngineSettings
from fleet.model import Cleanup, DeleteReason, RolloutPolicy, RunReport, Status, TargetResult
from fleet.sim.profile import parse_profile
from tests import simkit
from tests.e2e.harness import job, sim_backend

pytestmark = pytest.mark.anyio

SCALE = 100.0
LINES = "".join(f"line {i:03d}\n" for i in range(90))  # printed over a 90 s script


def _fixed(seconds: float) -> dict[str, float]:
    return {"median": seconds, "sigma": 0.0, "min": seconds, "max": seconds}


def estate(**changes: Any) -> Any:
    """One resource group: Linux VMs, Windows VMs, a VM full of others' run commands, one with
    seven of them, a dead agent; scripts take 5 s but the 'slow' ones 300 s, the 'chatty' 90 s."""
    data: dict[str, Any] = {
        "name": "vm-realism",
        "seed": 3,
        "subscriptions": [{
            "id": "00000000-0000-4000-8000-0000000000e2",
            "name": "sim-e2",
            "resource_groups": [{
                "name": "rg-e2",
                "location": "eastus",
                "vms": [
                    {"count": 3, "name": "lin-{i:02d}", "os": "linux"},
                    {"count": 2, "name": "win-{i:02d}", "os": "windows"},
                    {"count": 1, "name": "full-{i:02d}"},
                    {"count": 1, "name": "busy-{i:02d}"},
                    {"count": 1, "name": "dead-{i:02d}"},
                ],
            }],
        }],
        "overrides": [
            {"names": ["lin-02", "win-02"], "outcome": "slow"},
            {"names": ["lin-03"], "outcome": "chatty"},
            {"names": ["dead-01"], "agent": "not_ready"},
        ],
        "script": {
            "pending": _fixed(1.0),
            "duration": _fixed(5.0),
            "outcomes": [
                {"name": "ok", "output": "ok {vm_name}\n"},
                {"name": "slow", "weight": 0, "output": "working\n", "duration": _fixed(300.0)},
                {"name": "chatty", "weight": 0, "output": LINES, "duration": _fixed(90.0)},
            ],
        },
        "run_commands": {
            "existing": [
                {"names": ["full-01"], "count": 25, "name": "ops-{i}", "created_by": "backup-tool"},
                {"names": ["busy-01"], "count": 6, "name": "ops-{i}", "created_by": "backup-tool"},
                # a look-alike: named like fleet's, without fleet's tags
                {"names": ["busy-01"], "name": "fleet-inventory", "created_by": "cmdb-sync"},
            ],
        },
    }  # fmt: skip
    data.update(changes)
    return parse_profile(data, source="vm-realism")


def by_name(report: RunReport) -> dict[str, TargetResult]:
    return {r.target.name: r for r in report.results}


def on_vm(truth: dict[str, Any], vm: str) -> list[dict[str, Any]]:
    return [r for r in truth["run_commands"] if r["target"].lower().endswith(f"/{vm}")]


async def test_thirty_jobs_on_a_vm_with_others_run_commands_all_run_within_fleets_share() -> None:
    others = 7  # six of backup-tool's and cmdb-sync's look-alike "fleet-inventory"
    share = 25 - others
    async with sim_backend(estate(), SCALE) as (emu, backend):
        reports = []
        for i in range(30):
            spec = job(f"job-{i:02}", names=("busy-01",), timeout_s=60)
            reports.append(await api.run_async(spec, backend))
            held = on_vm(await simkit.ground_truth(emu, "runcommands"), "busy-01")
            assert sum(r["fleet_marked"] for r in held) <= share  # never more than its share
            assert sum(not r["fleet_marked"] for r in held) == others  # the others' stay
        truth = await simkit.ground_truth(emu, "runcommands")
        executed = (await simkit.ground_truth(emu, "executions"))["executed_per_target"]
    results = [report.results[0] for report in reports]
    assert [r.status for r in results] == [Status.SUCCEEDED] * 30, [r.reason for r in results]
    ran = next(v for k, v in executed.items() if k.lower().endswith("/busy-01"))
    assert ran == {f"fleet-job-{i:02}": 1 for i in range(30)}  # every job, exactly once
    deleted = truth["deleted"]
    assert len(deleted) == 30 - share  # one slot freed per job once fleet's share was full
    assert all(d["fleet_marked"] and d["created_by"] == d["deleted_by"] for d in deleted)
    assert not any(d["preexisting"] for d in deleted)  # not one of the others' was touched
    assert [d["name"] for d in deleted] == [f"fleet-job-{i:02}" for i in range(30 - share)]
    reclaimed = [d for r in results for d in r.deleted]
    assert [d.reason for d in reclaimed] == [DeleteReason.RECLAIMED] * (30 - share)
    # each DELETE went through the throttled pipeline (the connection's counters add up)
    assert reports[-1].arm.requests.get("deletes") == 30 - share
    held = on_vm(truth, "busy-01")
    assert all(r["tags"]["fleet-job"].startswith("job-") for r in held if r["fleet_marked"])


async def test_a_vm_full_of_others_run_commands_is_a_clear_error_and_nothing_is_deleted() -> None:
    async with sim_backend(estate(), SCALE) as (emu, backend):
        report = await api.run_async(job("patch", names=("full-01",)), backend)
        truth = await simkit.ground_truth(emu, "runcommands")
        executed = (await simkit.ground_truth(emu, "executions"))["executed_per_target"]
    (result,) = report.results
    assert result.status is Status.LIMIT_REACHED
    assert "maximum of 25 managed run commands" in result.reason
    assert "25 belong to other tools or people" in result.reason
    assert truth["deleted"] == [] and result.deleted == ()
    assert len(on_vm(truth, "full-01")) == 25 and executed == {}


async def test_timeouts_in_flight_views_and_the_cleanup_policy() -> None:
    """Linux kills at the timeout and says Failed/-1, Windows says TimedOut: both TimedOut. A
    90 s script read while it runs (exit code 0, partial output) ends only with its final view.
    ``cleanup: always`` deletes every finished run command and nothing in flight."""
    spec = job("timeouts", names=("lin-*", "win-*"), timeout_s=120)
    spec = dataclasses.replace(spec, rollout=RolloutPolicy(cleanup=Cleanup.ALWAYS))
    async with sim_backend(estate(), SCALE) as (emu, backend):
        report = await api.run_async(spec, backend)
        truth = await simkit.ground_truth(emu, "runcommands")
    results = by_name(report)
    assert results["lin-02"].status is Status.TIMED_OUT
    assert (results["lin-02"].execution_state, results["lin-02"].exit_code) == ("Failed", -1)
    assert "killed at its timeout (120 s)" in results["lin-02"].reason
    assert results["win-02"].status is Status.TIMED_OUT
    assert results["win-02"].execution_state == "TimedOut"
    chatty = results["lin-03"]
    assert chatty.status is Status.SUCCEEDED and chatty.output == LINES and chatty.polls >= 2
    for name in ("lin-01", "win-01"):
        assert results[name].status is Status.SUCCEEDED
    assert {d["name"] for d in truth["deleted"]} == {"fleet-timeouts"}
    assert len(truth["deleted"]) == 5 and all(d["fleet_marked"] for d in truth["deleted"])
    assert all(r.deleted and r.deleted[0].error is None for r in report.results)


async def test_timeout_zero_sets_no_handler_timeout() -> None:
    """``timeout: 0`` is sent as ``timeoutInSeconds: 0``: the 300 s script is not killed at any
    default the way the 120 s one above is."""
    async with sim_backend(estate(), SCALE) as (_emu, backend):
        report = await api.run_async(job("unlimited", names=("lin-02",), timeout_s=0), backend)
    (result,) = report.results
    assert result.status is Status.SUCCEEDED and result.output == "working\n"


async def test_a_dead_agent_is_agent_not_ready_when_azure_gives_up_within_pending_timeout() -> None:
    """Azure's verdict, not fleet's: the run command's operation failed (the emulator gives up on
    the agent ~1522 Azure-s after the PUT) before the engine's own ``pending_timeout`` (26 min)
    would have ended the target with a reason of its own. Which of the two ended it is read from
    the reason, not from a wall clock: both clocks run at the same scale, so a loaded machine
    changes neither the order nor the verdict."""
    scale = 300.0  # Azure gives up ~25 minutes after the request: 5 s here
    async with sim_backend(estate(), scale) as (emu, backend):
        spec = job("probe", names=("dead-01", "lin-01"), timeout_s=60)
        settings = EngineSettings(time_scale=scale)
        report = await api.run_async(spec, backend, settings=settings)
        rows = (await simkit.ground_truth(emu, "executions"))["executions"]
    results = by_name(report)
    dead = results["dead-01"]
    assert dead.status is Status.AGENT_NOT_READY and dead.started_at is None
    assert "gave up on the VM agent" in dead.reason  # Azure's operation failed ...
    assert "pending_timeout" not in dead.reason  # ... before fleet's pending_timeout ran out
    assert results["lin-01"].status is Status.SUCCEEDED
    [row] = [r for r in rows if r["target"].lower().endswith("/dead-01")]
    assert row["agent_failed"] and not row["started"]
    assert report.rollout is not None and report.rollout.platform_failures == 1

"""Azure's 25-run-command limit and what fleet leaves on the VMs, against the in-memory fake in
virtual time: slots reclaimed from fleet's own finished run commands only, a clear per-target
error when nothing can be freed, and the cleanup policies."""

from __future__ import annotations

import dataclasses

import pytest

from fleet.api import Backend, prepare, run_async
from fleet.engine.runner import EngineSettings, Runner
from fleet.model import (
    Amount,
    CallError,
    Cleanup,
    Deleted,
    DeleteReason,
    HealthGate,
    JobSpec,
    RolloutPolicy,
    RunReport,
    ScriptSource,
    ScriptSpec,
    Selector,
    SourceKind,
    Status,
)
from fleet.rollout.budget import FailureKind, classify
from fleet.rollout.control import Ended, RunControl
from tests.engine.kit import MemoryRecorder
from tests.fakes import VIRTUAL_TIME, Behaviour, FakeArm, listed, make_target

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


def job(name: str = "patch", **rollout: object) -> JobSpec:
    script = ScriptSpec(ScriptSource(SourceKind.INLINE, "echo hi"), timeout_s=60)
    return JobSpec(name, Selector(), script, rollout=RolloutPolicy(**rollout))


async def run(arm: FakeArm, spec: JobSpec, run_id: str = "run-1") -> RunReport:
    backend = Backend(targets=arm, run_commands=arm)
    plan = await prepare(spec, backend, run_id=run_id)
    return await run_async(plan, backend, settings=EngineSettings())


def crowded(others: int, *stale: str, state: str = "Succeeded") -> FakeArm:
    """One VM holding ``others`` run commands of other tools and fleet's ``stale`` ones (the
    first listed is the oldest)."""
    arm = FakeArm()
    arm.add(make_target("vm"))
    for i in range(others):
        arm.existing["vm"][f"ops-{i}"] = listed(f"ops-{i}", ended_hours_ago=1000 + i)
    for age, name in enumerate(stale):
        item = listed(name, fleets=True, state=state, ended_hours_ago=500 - age)
        arm.existing["vm"][name] = item
    return arm


async def test_at_the_limit_fleet_frees_its_oldest_finished_run_command_and_runs() -> None:
    arm = crowded(20, "fleet-old-a", "fleet-old-b", "fleet-old-c", "fleet-old-d", "fleet-old-e")
    report = await run(arm, job())
    (result,) = report.results
    assert result.status is Status.SUCCEEDED
    assert result.attempts == 2  # refused (never ran), then sent again once a slot was free
    assert result.deleted == (Deleted("fleet-old-a", DeleteReason.RECLAIMED),)
    assert arm.deletions == [("vm", "fleet-old-a", True)]  # fleet's own, nothing else
    assert arm.executions["vm"] == 1 and arm.held("vm") == 25


async def test_a_slot_freed_by_someone_else_meanwhile_is_used_without_deleting() -> None:
    class OthersClean(FakeArm):
        async def list_commands(self, target):  # type: ignore[no-untyped-def]
            self.existing["vm"].pop("ops-0", None)  # another tool tidied up after the refusal
            return await super().list_commands(target)

    arm = crowded(20, "fleet-a", "fleet-b", "fleet-c", "fleet-d", "fleet-e")
    arm.__class__ = OthersClean
    (result,) = (await run(arm, job())).results
    assert result.status is Status.SUCCEEDED and result.attempts == 2
    assert result.deleted == () and arm.deletions == []


async def test_the_refused_put_and_the_retry_are_journaled_like_any_refused_put() -> None:
    """Exactly once still holds: the refused PUT never ran (journaled as not arrived), and the
    retry has its own durable intent before it leaves."""

    arm = crowded(24, "fleet-old")
    journal = MemoryRecorder()
    backend = Backend(targets=arm, run_commands=arm)
    plan = await prepare(job(), backend, run_id="run-1")
    runner = Runner(plan, arm, recorder=journal)
    (result,) = await runner.run()
    assert result.status is Status.SUCCEEDED and arm.executions["vm"] == 1
    assert journal.entries("vm", final=False) == [
        ("intent", "run-1"), ("put_failed", False), ("intent", "run-1"), ("accepted", None),
    ]  # fmt: skip


async def test_slots_taken_by_others_every_round_end_in_limit_reached() -> None:
    class Crowding(FakeArm):
        """Another tool creates a run command the moment fleet's deletion is done."""

        async def delete(self, target, run_command):  # type: ignore[no-untyped-def]
            err = await super().delete(target, run_command)
            late = f"late-{len(self.deletions)}"
            self.existing["vm"][late] = listed(late)
            return err

    arm = crowded(20, *(f"fleet-old-{i}" for i in range(5)))
    arm.__class__ = Crowding
    (result,) = (await run(arm, job())).results
    assert result.status is Status.LIMIT_REACHED and result.attempts == 4  # 1 + 3 rounds
    assert "each of the 3 slots fleet freed was taken" in result.reason
    assert [d.run_command for d in result.deleted] == ["fleet-old-0", "fleet-old-1", "fleet-old-2"]
    assert all(fleets for _vm, _rc, fleets in arm.deletions)


async def test_a_run_that_stops_while_a_slot_is_freed_sends_no_second_put() -> None:
    control = RunControl()

    class StopDuringDelete(FakeArm):
        async def delete(self, target, run_command):  # type: ignore[no-untyped-def]
            control.stop(Ended.DEADLINE, "the run's deadline passed")
            return await super().delete(target, run_command)

    arm = crowded(24, "fleet-old")
    arm.__class__ = StopDuringDelete
    backend = Backend(targets=arm, run_commands=arm)
    plan = await prepare(job(), backend, run_id="run-1")
    report = await run_async(plan, backend, control=control)
    (result,) = report.results
    assert result.status is Status.NOT_STARTED and result.attempts == 1
    assert result.deleted == (Deleted("fleet-old", DeleteReason.RECLAIMED),)
    assert len(arm.puts["vm"]) == 1 and arm.executions["vm"] == 0 and report.ended == "deadline"


async def test_a_vm_full_of_others_run_commands_is_a_clear_error_and_nothing_is_deleted() -> None:
    arm = crowded(25)
    (result,) = (await run(arm, job())).results
    assert result.status is Status.LIMIT_REACHED
    assert result.reason is not None
    assert "maximum of 25 managed run commands" in result.reason
    assert "25 belong to other tools or people" in result.reason
    assert arm.deletions == [] and result.deleted == () and arm.executions["vm"] == 0
    assert classify(result) is FailureKind.PLATFORM


async def test_fleets_run_commands_in_flight_are_never_freed() -> None:
    arm = crowded(22, "fleet-a", "fleet-b", "fleet-c", state="Running")
    (result,) = (await run(arm, job())).results
    assert result.status is Status.LIMIT_REACHED
    assert "22 belong to other tools" in result.reason and "3 of fleet's" in result.reason
    assert arm.deletions == []


async def test_the_put_waits_for_the_deletion_to_finish_instead_of_being_refused_again() -> None:
    arm = crowded(24, "fleet-old")
    arm.delete_delay = 40.0  # a run command being deleted still counts toward the limit
    (result,) = (await run(arm, job())).results
    assert result.status is Status.SUCCEEDED and result.attempts == 2
    assert arm.gets["vm"] >= 2  # read until Azure said it was gone


async def test_thirty_jobs_on_one_vm_with_others_commands_all_run_within_fleets_share() -> None:
    arm = crowded(7)
    for i in range(30):
        report = await run(arm, job(f"job-{i:02}"), run_id=f"run-{i}")
        assert report.results[0].status is Status.SUCCEEDED, report.results[0].reason
    assert arm.executions["vm"] == 30
    assert arm.most_fleet_commands["vm"] <= 25 - 7  # never more than the slots others left
    assert all(fleets for _vm, _rc, fleets in arm.deletions)  # never another's
    assert len(arm.deletions) == 30 - (25 - 7)
    assert len(arm.existing["vm"]) == 7  # the others' are all still there


async def test_cleanup_policies_delete_only_what_they_say_and_the_report_lists_it() -> None:
    def fleet() -> FakeArm:
        arm = FakeArm()
        arm.add(make_target("ok"))
        arm.add(make_target("bad"), Behaviour(exit_code=2))
        arm.add(make_target("stuck"), Behaviour(wedged=True))
        return arm

    seen: dict[Cleanup, list[str]] = {}
    for policy in Cleanup:
        arm = fleet()
        report = await run(arm, job(cleanup=policy))
        seen[policy] = sorted(vm for vm, _rc, _fleets in arm.deletions)
        assert report.cleanup == policy.value
        for r in report.results:
            expected = (Deleted("fleet-patch", DeleteReason.CLEANUP),)
            assert r.deleted == (expected if r.target.name in seen[policy] else ())
    assert seen == {
        Cleanup.KEEP_LAST: [],
        Cleanup.DELETE_ON_SUCCESS: ["ok"],
        Cleanup.ALWAYS: ["bad", "ok"],  # never the wedged one: still Running
    }


async def test_the_journal_settles_before_a_cleanup_deletes_the_targets_run_command() -> None:
    """Once its run command is deleted, a target whose PUT_ACCEPTED a kill took would look
    never launched to resume: the recorder is settled (everything recorded is committed)
    between the accept and the delete."""
    arm = FakeArm()
    arm.add(make_target("ok"))

    class Settling(MemoryRecorder):
        async def settle(self) -> None:
            self.log.append(("ok", "settle", len(arm.deletions)))

    journal = Settling()
    backend = Backend(targets=arm, run_commands=arm)
    plan = await prepare(job(cleanup=Cleanup.ALWAYS), backend, run_id="run-1")
    (result,) = await Runner(plan, arm, recorder=journal).run()
    assert result.deleted == (Deleted("fleet-patch", DeleteReason.CLEANUP),)
    assert journal.entries("ok", final=False) == [
        ("intent", "run-1"), ("accepted", None), ("settle", 0),
    ]  # fmt: skip
    assert len(arm.deletions) == 1


async def test_gates_follow_the_jobs_cleanup_policy() -> None:
    arm = FakeArm()
    for i in range(3):
        arm.add(make_target(f"vm-{i}"))
    gate = HealthGate("smoke", ScriptSpec(ScriptSource(SourceKind.INLINE, "check"), timeout_s=60))
    spec = job(
        cleanup=Cleanup.DELETE_ON_SUCCESS, batches=(Amount(count=1), Amount(count=2)), gates=(gate,)
    )
    report = await run(arm, spec)
    assert all(r.status is Status.SUCCEEDED for r in report.results)
    deleted = sorted((vm, rc) for vm, rc, _ in arm.deletions)
    assert deleted == [
        ("vm-0", "fleet-patch"), ("vm-0", "fleet-patch-gate-smoke"),
        ("vm-1", "fleet-patch"), ("vm-2", "fleet-patch"),
    ]  # fmt: skip


async def test_a_refused_cleanup_delete_is_reported_not_a_failure() -> None:
    class Refusing(FakeArm):
        async def delete(self, target, run_command):  # type: ignore[no-untyped-def]
            return CallError(409, "Conflict", "another operation is in progress")

    arm = Refusing()
    arm.add(make_target("vm"))
    (result,) = (await run(arm, job(cleanup=Cleanup.ALWAYS))).results
    assert result.status is Status.SUCCEEDED
    assert result.deleted == (
        Deleted("fleet-patch", DeleteReason.CLEANUP, "Conflict: another operation is in progress"),
    )


async def test_every_put_carries_fleets_marker() -> None:
    arm = FakeArm()
    arm.add(make_target("vm"))
    await run(arm, job("health-check"), run_id="r-42")
    (listed_,) = await arm.list_commands(arm.targets["vm"])
    assert listed_.fleets and listed_.job == "health-check"
    assert dict(listed_.tags)["fleet-run-id"] == "r-42"
    assert dataclasses.asdict(arm.puts["vm"][0])["job"] == "health-check"

"""The pure rules of what fleet deletes (``fleet.engine.hygiene``): its marker, the slot plan at
Azure's per-VM limit, the cleanup policy, ``fleet clean``'s verdicts, and how the limit's refusal
is recognised."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fleet.engine.hygiene import (
    Limit,
    clean_verdict,
    cleanup_wanted,
    limit_of,
    limit_reason,
    plan_slots,
)
from fleet.model import (
    CallError,
    Cleanup,
    ListedRunCommand,
    RunView,
    Status,
    TargetResult,
    is_fleets,
    marker_tags,
)
from tests.fakes import EPOCH, limit_refusal, listed, make_target


def test_the_marker_is_the_name_prefix_and_all_three_tags() -> None:
    tags = marker_tags("health-check", "r-1")
    assert tags == {"fleet-managed": "true", "fleet-job": "health-check", "fleet-run-id": "r-1"}
    assert is_fleets("fleet-health-check", tags)
    assert is_fleets("FLEET-x", {k.upper(): v for k, v in tags.items()})  # ARM: names any case
    assert not is_fleets("fleet-x", {})  # a look-alike: someone else's
    assert not is_fleets("fleet-x", {**tags, "fleet-managed": "True"})  # values compare exactly
    assert not is_fleets("fleet-x", {"fleet-managed": "true", "fleet-job": "x"})  # no run id
    assert not is_fleets("backup-fleet-x", tags)  # the prefix is part of the marker


def test_limit_refusal_is_recognised_by_its_message_and_counts_read() -> None:
    assert limit_of(limit_refusal(25, 25)) == Limit(25, 25)
    assert limit_of(limit_refusal(30, 31)) == Limit(30, 31)
    loose = CallError(400, "BadRequest", "The maximum number of managed Run commands was reached")
    assert limit_of(loose) == Limit(25, None)
    assert limit_of(CallError(409, "Conflict", "another operation is in progress")) is None


def vm_at_limit(*extra: ListedRunCommand) -> list[ListedRunCommand]:
    others = [listed(f"ops-{i}") for i in range(20)]
    return [*others, *extra]


def test_a_slot_is_freed_from_fleets_oldest_finished_run_command_only() -> None:
    on_vm = vm_at_limit(
        listed("fleet-newer", fleets=True, ended_hours_ago=1),
        listed("fleet-oldest", fleets=True, ended_hours_ago=300),
        listed("fleet-running", fleets=True, state="Running", ended_hours_ago=900),
        listed("fleet-lookalike", ended_hours_ago=999),  # no marker: someone else's
        listed("fleet-failed", fleets=True, state="Failed", ended_hours_ago=50),
    )
    plan = plan_slots(on_vm, 25, launching="fleet-new-job")
    assert [c.name for c in plan.delete] == ["fleet-oldest"]
    assert (plan.others, plan.busy, plan.total) == (21, 1, 25)


def test_more_slots_when_the_vm_holds_more_than_the_limit_and_never_the_one_launching() -> None:
    on_vm = vm_at_limit(
        *(listed(f"fleet-j{i}", fleets=True, ended_hours_ago=10 + i) for i in range(6)),
        listed("fleet-new-job", fleets=True, ended_hours_ago=1000),
    )
    plan = plan_slots(on_vm, 25, launching="FLEET-NEW-JOB")
    assert [c.name for c in plan.delete] == ["fleet-j5", "fleet-j4", "fleet-j3"]  # 27 - 25 + 1


def test_nothing_is_deleted_when_a_slot_came_free_since_the_refusal() -> None:
    on_vm = [listed(f"ops-{i}") for i in range(23)] + [listed("fleet-a", fleets=True)]
    plan = plan_slots(on_vm, 25, launching="fleet-new")
    assert plan.delete == () and plan.needed == 0 and not plan.blocked


def test_nothing_to_free_when_every_slot_is_others_or_in_flight() -> None:
    on_vm = vm_at_limit(
        *(listed(f"fleet-busy-{i}", fleets=True, state="Pending") for i in range(5))
    )
    plan = plan_slots(on_vm, 25, launching="fleet-new")
    assert plan.delete == () and plan.blocked and (plan.others, plan.busy) == (20, 5)
    reason = limit_reason(Limit(25, 25), plan)
    assert "maximum of 25 managed run commands" in reason
    assert "20 belong to other tools or people" in reason and "5 of fleet's" in reason


def result(status: Status, state: str | None) -> TargetResult:
    return TargetResult(make_target("vm"), status, execution_state=state)


@pytest.mark.parametrize(
    ("policy", "status", "state", "wanted"),
    [
        (Cleanup.KEEP_LAST, Status.SUCCEEDED, "Succeeded", False),
        (Cleanup.DELETE_ON_SUCCESS, Status.SUCCEEDED, "Succeeded", True),
        (Cleanup.DELETE_ON_SUCCESS, Status.FAILED, "Failed", False),
        (Cleanup.ALWAYS, Status.FAILED, "Failed", True),
        (Cleanup.ALWAYS, Status.TIMED_OUT, "Failed", True),  # Linux timeout: final
        (Cleanup.ALWAYS, Status.WEDGED, "Running", False),  # in flight: never
        (Cleanup.ALWAYS, Status.AGENT_NOT_READY, "Pending", False),  # in flight: never
        (Cleanup.ALWAYS, Status.ERROR, "Running", False),  # left running at a stop
        (Cleanup.ALWAYS, Status.CANCELED, "Running", False),  # fleet deleted it already
        (Cleanup.ALWAYS, Status.ERROR, None, False),  # never read
    ],
)
def test_cleanup_policy(policy: Cleanup, status: Status, state: str | None, wanted: bool) -> None:
    assert cleanup_wanted(policy, result(status, state)) is wanted


NOW = EPOCH


@pytest.mark.parametrize(
    ("item", "job", "older_than_s", "delete", "why"),
    [
        (listed("ops-backup"), None, None, False, "not fleet's"),
        (listed("fleet-lookalike"), None, None, False, "not fleet's"),
        (listed("fleet-health", fleets=True), None, None, True, "Succeeded 1d ago"),
        (listed("fleet-health", fleets=True), "health", None, True, "Succeeded"),
        (listed("fleet-health", fleets=True), "patch", None, False, "job 'health', not 'patch'"),
        (listed("fleet-x", fleets=True, state="Running"), None, None, False, "still Running"),
        (listed("fleet-x", fleets=True, ended_hours_ago=24 * 8), None, 7 * 86400, True, "8d ago"),
        (listed("fleet-x", fleets=True, ended_hours_ago=2), None, 7 * 86400, False, "2h ago"),
        (
            ListedRunCommand("fleet-x", tuple(marker_tags("x", "r").items()), RunView("Failed")),
            None, 3600, False, "age unknown",
        ),
    ],
)  # fmt: skip
def test_clean_verdicts(
    item: ListedRunCommand, job: str | None, older_than_s: int | None, delete: bool, why: str
) -> None:
    verdict = clean_verdict(item, job=job, older_than_s=older_than_s, now=NOW)
    assert verdict.delete is delete
    assert why in verdict.why


def test_listed_helper_ages_are_what_the_verdicts_read() -> None:
    item = listed("fleet-x", fleets=True, ended_hours_ago=3)
    assert item.finished_at == NOW - timedelta(hours=3) and item.job == "x"

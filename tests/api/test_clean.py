"""``fleet.api.clean`` against the in-memory fake: the survey (a dry run writes nothing), deleting
only fleet's own finished run commands, the job and age filters, and never one that changed since
it was listed."""

from __future__ import annotations

import pytest

from fleet.api import Backend
from fleet.api.clean import CleanFilter, clean, survey
from fleet.model import RunView
from tests.fakes import EPOCH, VIRTUAL_TIME, FakeArm, listed, make_target

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


def estate() -> FakeArm:
    arm = FakeArm()
    web = arm.add(make_target("web-1"))
    arm.add(make_target("web-2", power_state="deallocated"))
    for item in (
        listed("ops-backup"),  # another tool's
        listed("fleet-lookalike"),  # a fleet- name without fleet's tags: not fleet's
        listed("fleet-health", fleets=True, ended_hours_ago=24 * 10),
        listed("fleet-patch", fleets=True, ended_hours_ago=2),
        listed("fleet-busy", fleets=True, state="Running"),
    ):
        arm.existing[web.name][item.name] = item
    arm.existing["web-2"]["fleet-health"] = listed("fleet-health", fleets=True)
    return arm


def chosen(plan) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(r.target.name, r.item.name) for r in plan.chosen]


async def test_a_survey_chooses_fleets_finished_run_commands_and_writes_nothing() -> None:
    arm = estate()
    plan = await survey(Backend(arm, arm), list(arm.targets.values()), CleanFilter())
    assert chosen(plan) == [("web-1", "fleet-health"), ("web-1", "fleet-patch")]
    why = {(r.target.name, r.item.name): r.why for r in plan.rows}
    assert why[("web-1", "ops-backup")] == "not fleet's: left alone"
    assert why[("web-1", "fleet-lookalike")] == "not fleet's: left alone"
    assert why[("web-1", "fleet-busy")] == "still Running: left alone"
    assert "VM deallocated" in why[("web-2", "fleet-health")]
    assert plan.dry_run and arm.deletions == []


async def test_clean_deletes_only_what_was_chosen() -> None:
    arm = estate()
    backend = Backend(arm, arm)
    plan = await clean(backend, await survey(backend, list(arm.targets.values()), CleanFilter()))
    assert sorted(arm.deletions) == [
        ("web-1", "fleet-health", True),
        ("web-1", "fleet-patch", True),
    ]
    assert [r.item.name for r in plan.rows if r.deleted] == ["fleet-health", "fleet-patch"]
    assert not plan.dry_run and plan.failed == ()
    assert set(arm.existing["web-1"]) == {"ops-backup", "fleet-lookalike", "fleet-busy"}


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        (CleanFilter(older_than_s=7 * 86400), [("web-1", "fleet-health")]),
        (CleanFilter(job="patch"), [("web-1", "fleet-patch")]),
        (CleanFilter(job="lookalike"), []),  # a look-alike is never fleet's, whatever the name
        (CleanFilter(job="patch", older_than_s=86400), []),
    ],
)
async def test_job_and_age_filters(what: CleanFilter, expected: list[tuple[str, str]]) -> None:
    arm = estate()
    plan = await survey(Backend(arm, arm), list(arm.targets.values()), what, now=EPOCH)
    assert chosen(plan) == expected


async def test_a_run_command_that_changed_since_the_survey_is_left_alone() -> None:
    arm = estate()
    backend = Backend(arm, arm)
    plan = await survey(backend, [arm.targets["web-1"]], CleanFilter(job="patch"))
    old = arm.existing["web-1"]["fleet-patch"]
    started_again = RunView("Running", run_id="newer-run")  # a newer fleet run PUT it meanwhile
    arm.existing["web-1"]["fleet-patch"] = type(old)(old.name, old.tags, started_again)
    plan = await clean(backend, plan)
    (row,) = [r for r in plan.rows if r.item.name == "fleet-patch"]
    assert not row.deleted and "changed since it was listed (now Running)" in row.why
    assert arm.deletions == []


async def test_a_target_that_cannot_be_listed_is_reported_not_skipped_silently() -> None:
    from fleet.model import CallError

    class Denied(FakeArm):
        async def list_commands(self, target):  # type: ignore[no-untyped-def]
            return CallError(403, "AuthorizationFailed", "no read access")

    arm = Denied()
    arm.add(make_target("vm"))
    plan = await survey(Backend(arm, arm), [arm.targets["vm"]], CleanFilter())
    (row,) = plan.rows
    assert row.item is None and row.error == "AuthorizationFailed: no read access"
    assert plan.failed == (row,)

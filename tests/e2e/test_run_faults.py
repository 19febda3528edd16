"""Platform faults do not make fleet lose a result or run a script twice, against an emulator
where an identical PUT runs the script again (the pessimistic reading of
MicrosoftDocs/azure-compute-docs PR #178): every launched target executed exactly once, and the
PUT requests that reached the emulator are exactly the intents fleet's journal holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet import api
from fleet.journal import Journal
from fleet.model import Status
from fleet.sim.profile import Profile
from tests import simkit
from tests.e2e import once
from tests.e2e.harness import job, sim_backend

pytestmark = pytest.mark.anyio

FAULTS = {
    # The case an SDK re-send would turn into a second execution: the PUT took effect, its
    # answer is lost; only run-command PUTs, half of them.
    "dropped-puts": {
        "connection_resets": {
            "rate": 0.5, "after_processing": 1.0, "methods": ["PUT"],
            "operations": ["*RunCommands_CreateOrUpdate"],
        }
    },
    # Everything at once, on every request: 5xx, connections lost before or after processing.
    "mixed": {
        "transient": {"rate": 0.15, "statuses": [500, 503]},
        "connection_resets": {"rate": 0.15, "after_processing": 0.7},
    },
}  # fmt: skip


def pessimistic(**changes: Any) -> Profile:
    """The small profile where every applied PUT runs the script, identical or not."""
    base = simkit.profile("small").model_dump(mode="json", exclude_unset=True)
    rules = {**base.get("run_commands", {}), "identical_put_reruns": True}
    return simkit.profile("small", run_commands=rules, **changes)


@pytest.mark.parametrize("faults", sorted(FAULTS))
async def test_lost_answers_and_5xx_never_cause_a_second_execution(
    tmp_path: Path, faults: str
) -> None:
    state = tmp_path / "state"
    async with sim_backend(pessimistic(faults=FAULTS[faults]), 50.0) as (emu, backend):
        with Journal.open(state) as journal:
            report = await api.run_async(job("flaky", timeout_s=300), backend, journal=journal)
        truth = await simkit.ground_truth(emu, "executions")
        stats = await simkit.ground_truth(emu)
    assert stats["faults"].get("reset_after", 0) > 0  # answers were lost after processing
    by_name = {r.target.name: r for r in report.results}
    assert by_name["app-12"].status is Status.SKIPPED  # deallocated
    assert by_name["app-03"].status is Status.FAILED  # disk full
    launched = [r for r in report.results if r.status in (Status.SUCCEEDED, Status.FAILED)]
    assert len(launched) == 19
    assert once.put_throttles(stats) == 0
    statuses = {r.target.id: r.status.value for r in report.results}
    sent = once.journal_puts(state, report.run_id)
    assert once.problems(truth, statuses, "fleet-flaky", sent) == []
    assert sum(r.attempts for r in report.results) == sum(n for n, _ in sent.values())


async def test_a_rerun_with_the_same_job_executes_again_exactly_once() -> None:
    async with sim_backend(pessimistic(), 50.0) as (emu, backend):
        first = await api.run_async(job("twice", timeout_s=300), backend)
        second = await api.run_async(job("twice", timeout_s=300), backend)
        truth = await simkit.ground_truth(emu, "executions")
    assert first.run_id != second.run_id
    ran = [r for r in second.results if r.status in (Status.SUCCEEDED, Status.FAILED)]
    assert len(ran) == 19  # everything but the deallocated app-12
    assert [r.status for r in first.results] == [r.status for r in second.results]
    for result in ran:
        assert truth["executed_per_target"][result.target.id]["fleet-twice"] == 2
        assert truth["put_requests_per_target"][result.target.id]["fleet-twice"] == 2

"""Platform faults do not make fleet lose a result or run a script twice."""

from __future__ import annotations

import pytest

from fleet import api
from fleet.model import Status
from tests import simkit
from tests.e2e.harness import job, sim_backend

pytestmark = pytest.mark.anyio


async def test_resets_and_5xx_never_cause_a_second_execution() -> None:
    faults = {
        "transient": {"rate": 0.15, "statuses": [500, 503]},
        "connection_resets": {"rate": 0.15, "after_processing": 0.7},
    }
    profile = simkit.profile("small", faults=faults)
    async with sim_backend(profile, 50.0) as (emu, backend):
        report = await api.run_async(job("flaky", timeout_s=300), backend)
        truth = await simkit.ground_truth(emu, "executions")
        stats = await simkit.ground_truth(emu)
    assert stats["faults"].get("reset_after", 0) + stats["faults"].get("transient", 0) > 0
    by_name = {r.target.name: r for r in report.results}
    assert by_name["app-12"].status is Status.SKIPPED  # deallocated
    assert by_name["app-03"].status is Status.FAILED  # disk full
    launched = [r for r in report.results if r.status in (Status.SUCCEEDED, Status.FAILED)]
    assert len(launched) == 19
    for result in launched:
        assert truth["executed_per_target"][result.target.id]["fleet-flaky"] == 1


async def test_a_rerun_with_the_same_job_executes_again_exactly_once() -> None:
    async with sim_backend(simkit.profile("small"), 50.0) as (emu, backend):
        first = await api.run_async(job("twice", timeout_s=300), backend)
        second = await api.run_async(job("twice", timeout_s=300), backend)
        truth = await simkit.ground_truth(emu, "executions")
    assert first.run_id != second.run_id
    ran = [r for r in second.results if r.status in (Status.SUCCEEDED, Status.FAILED)]
    assert len(ran) == 19  # everything but the deallocated app-12
    assert [r.status for r in first.results] == [r.status for r in second.results]
    for result in ran:
        assert truth["executed_per_target"][result.target.id]["fleet-twice"] == 2

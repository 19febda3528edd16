"""Runs on Temporal with workers in this process (each with an ARM connection of its own): the
same per-target outcomes as a local run of the same job, every script executed exactly once, no
429 (the emulator's ground truth), and the report counts every worker's ARM requests."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest

from fleet.api import prepare, run_async
from fleet.model import RunReport
from fleet.spec import ParsedJob, load_job
from fleet.spec.portable import portable
from fleet.temporal.client import RunSettings, follow, submit
from tests import simkit
from tests.temporal.conftest import Space
from tests.temporal.harness import Fleet, on_temporal

pytestmark = pytest.mark.anyio


def job_file(tmp: Path, name: str, extra: str = "") -> ParsedJob:
    path = tmp / f"{name}.yaml"
    path.write_text(
        f"name: {name}\ntargets: {{all: true}}\n"
        f"script:\n  inline: echo checking\n  timeout: 300\n{extra}"
    )
    return load_job(path)


async def on_temporal_run(fleet: Fleet, job: ParsedJob) -> RunReport:
    plan = await prepare(job.spec, fleet.backend)
    handle = await submit(fleet.client, plan, portable(job.document), RunSettings(fleet.time_scale))
    return await follow(handle)


def outcomes(report: RunReport) -> dict[str, tuple[str, int | None]]:
    return {r.target.id.lower(): (r.status.value, r.exit_code) for r in report.results}


async def test_a_run_on_temporal_matches_a_local_run(space: Space, tmp_path: Path) -> None:
    local_job, remote_job = job_file(tmp_path, "local"), job_file(tmp_path, "remote")
    async with on_temporal(space, simkit.profile("pair"), workers=2) as fleet:
        local = await run_async(local_job.spec, fleet.backend)
        remote = await on_temporal_run(fleet, remote_job)
        truth = await simkit.ground_truth(fleet.emu, "executions")
        stats = await simkit.ground_truth(fleet.emu)
    assert outcomes(remote) == outcomes(local)
    by_name = {r.target.name: r.status.value for r in remote.results}
    assert by_name["east-04"] == by_name["west-07"] == "Failed"  # disk full
    assert by_name["east-12"] == "Skipped"  # deallocated
    assert remote.ended == "completed" and len(remote.results) == 32
    ran = [r for r in remote.results if r.status.value in ("Succeeded", "Failed")]
    assert len(ran) == 31
    for result in ran:
        assert truth["executed_per_target"][result.target.id]["fleet-remote"] == 1
    assert stats["throttled_total"] == 0
    assert remote.arm.requests.get("writes", 0) == 31  # one PUT per target, from both workers
    assert remote.arm.requests.get("reads", 0) >= 31


async def test_workers_sharded_by_subscription_each_run_their_own(space: Space, tmp_path: Path):  # type: ignore[no-untyped-def]
    job = job_file(tmp_path, "sharded")
    profile = simkit.profile("pair")
    east, west = (s.id for s in profile.subscriptions)
    async with on_temporal(space, profile, workers=2, subscriptions=[[east], [west]]) as fleet:
        report = await on_temporal_run(fleet, job)
        truth = await simkit.ground_truth(fleet.emu, "executions")
    assert report.ended == "completed"
    executed = {
        tid for tid, jobs in truth["executed_per_target"].items() if "fleet-sharded" in jobs
    }
    assert len(executed) == 31
    assert {r.target.subscription for r in report.results} == {east, west}


async def test_ctrl_c_twice_reaches_the_workflow_and_cancels_what_is_in_flight(
    space: Space, tmp_path: Path
) -> None:
    """The client's Ctrl-C (``interrupt`` signals): the first stops launching, the second
    deletes the in-flight run commands; the report says so."""
    job = job_file(tmp_path, "stopped", "max_concurrency: 4\n")
    script = {"pending": {"median": 2}, "duration": {"median": 600, "sigma": 0.1, "min": 300},
              "unknown": "generic"}  # fmt: skip
    async with on_temporal(space, simkit.profile("pair", script=script)) as fleet:
        plan = await prepare(job.spec, fleet.backend)
        settings = RunSettings(fleet.time_scale)
        handle = await submit(fleet.client, plan, portable(job.document), settings)

        async def launched() -> bool:
            progress = await handle.query("progress")
            return int(progress.get("running", 0)) >= 4

        with anyio.fail_after(60):
            while not await launched():  # noqa: ASYNC110 - the workflow's own state
                await anyio.sleep(0.2)
        await handle.signal("interrupt")
        await handle.signal("interrupt")
        report = await follow(handle)
        deleted = (await simkit.ground_truth(fleet.emu, "runcommands"))["deleted"]
    by_status = Counter(r.status.value for r in report.results)
    assert report.ended == "canceled"
    assert by_status["Canceled"] == 4 and by_status["NotStarted"] == 27
    assert by_status["Skipped"] == 1  # east-12: deallocated
    assert len([d for d in deleted if d.get("name") == "fleet-stopped"]) == 4

"""Rollout control end to end through the real SDK against the emulator: a zone-by-zone rolling
patch with a canary and percentages, the error budget, a failing health gate, the deadline and
cancel with DELETE (the emulator's ground truth shows the deleted commands Canceled)."""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from typing import Any

import anyio
import pytest

from fleet import api
from fleet.model import (
    Amount,
    HealthGate,
    JobSpec,
    Order,
    Progress,
    RolloutPolicy,
    RunReport,
    ScriptSource,
    ScriptSpec,
    SourceKind,
    Status,
)
from fleet.rollout.control import RunControl
from fleet.spec import RolloutOptions, load_job_spec
from tests import simkit
from tests.e2e.harness import job, sim_backend

pytestmark = pytest.mark.anyio
SCALE = 60.0
LONG_SCRIPTS = {
    "pending": {"median": 2, "sigma": 0.1, "min": 1, "max": 3},
    "duration": {"median": 220, "sigma": 0.05, "min": 200, "max": 240},
}


def rollout(spec: JobSpec, **changes: Any) -> JobSpec:
    return dataclasses.replace(spec, rollout=dataclasses.replace(spec.rollout, **changes))


def executions(truth: dict[str, Any], run_command: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in truth["executions"]:
        if row["run_command"] == run_command:
            out[row["target"].lower()].append(row)
    return out


def by_name(report: RunReport) -> dict[str, Status]:
    return {r.target.name: r.status for r in report.results}


async def test_rolling_patch_zone_by_zone_with_canary_and_percentages() -> None:
    spec = load_job_spec("configs/jobs/rolling-patch.yaml", rollout=RolloutOptions(pause="30s"))
    spec = rollout(spec, gates=(), pending_timeout_s=120)  # the gate: the next test's business
    # The shipped patch script: the emulator has ~30% of the healthy VMs exit 100 ("patched,
    # reboot required"), which the job's success_exit_codes [0, 100] counts as a success.
    spec = dataclasses.replace(spec, script=dataclasses.replace(spec.script, timeout_s=120))
    async with sim_backend(simkit.profile("demo"), SCALE) as (emu, backend):
        report = await api.run_async(spec, backend)
        truth = await simkit.ground_truth(emu, "executions")
        restarts = await simkit.ground_truth(emu, "restarts")
    assert report.ended == "completed", report.ended_detail
    ids = [r.target.id for r in report.results]
    assert len(ids) == len(set(ids)) == 60  # rg-web: 40 VMs + 20 vmss-api instances, once each
    statuses = by_name(report)
    assert statuses["web-038"] is Status.SKIPPED and statuses["web-005"] is Status.FAILED
    assert statuses["web-017"] is Status.AGENT_NOT_READY  # a platform failure
    # The job's success_exit_codes [0, 100]: "patched, reboot required" is a success, with the
    # code kept; web-005's full disk is the one script failure (vmss-api_12's service being
    # down does not stop its patch).
    reboot = [r for r in report.results if r.exit_code == 100]
    assert reboot and all(r.status is Status.SUCCEEDED for r in reboot)
    # The job's reboot: if-required (exit code 100): Azure restarted exactly those VMs, once
    # each, and each was back (running, agent Ready) before it counted as done.
    per_target = {t.lower(): n for t, n in restarts["restarts_per_target"].items()}
    assert per_target == {r.target.id.lower(): 1 for r in reboot}
    assert all(r.reboot is not None and r.reboot.done for r in reboot)
    assert all(r.reboot is None for r in report.results if r.exit_code != 100)
    record = report.rollout
    assert (record.script_failures, record.platform_failures, record.max_errors) == (1, 2, 2)
    batches = record.batches
    assert len(batches[0].target_ids) == 1  # the canary
    assert sum(len(b.target_ids) for b in batches) == 58  # the runnable ones, each once
    zone_of = {r.target.id: (r.target.location, r.target.zone) for r in report.results}
    assert all(len({zone_of[i] for i in b.target_ids}) == 1 for b in batches)  # never mixed
    sizes = [len(b.target_ids) for b in batches]
    assert sizes[:3] == [1, 5, 6]  # canary, 5, then 10% of 58 rounded up
    assert len({zone_of[b.target_ids[0]] for b in batches}) == 3  # zones 1-3 of eastus
    ran = executions(truth, "fleet-rolling-patch")
    for earlier, later in itertools.pairwise(batches):
        last_start = max(ran[i.lower()][0]["created_at"] for i in earlier.target_ids)
        first_start = min(ran[i.lower()][0]["created_at"] for i in later.target_ids)
        assert first_start >= last_start + 30  # the next batch waited out the soak pause
    assert all(len(ran[i.lower()]) == 1 for b in batches for i in b.target_ids)


async def test_failing_gate_halts_after_the_batch_it_failed_on() -> None:
    gate = HealthGate("health", ScriptSpec(ScriptSource(SourceKind.INLINE, "check"), timeout_s=60))
    policy = RolloutPolicy(
        batches=(Amount(count=2), Amount(count=3), Amount(percent=100)),
        order=Order.NAME, max_errors=Amount(count=5), gates=(gate,),
    )  # fmt: skip
    spec = dataclasses.replace(job("gated", names=("app-*",)), rollout=policy)
    async with sim_backend(simkit.profile("small"), SCALE) as (emu, backend):
        report = await api.run_async(spec, backend)
        truth = await simkit.ground_truth(emu, "executions")
    assert report.ended == "halted-by-gate"
    assert "after batch 2" in report.ended_detail and "app-03" in report.ended_detail
    statuses = by_name(report)
    assert [statuses[f"app-{i:02}"] for i in (1, 2, 4, 5)] == [Status.SUCCEEDED] * 4
    assert statuses["app-03"] is Status.FAILED  # disk full: its patch and its gate fail
    assert all(statuses[f"app-{i:02}"] is Status.NOT_STARTED for i in range(6, 12))
    patched = executions(truth, "fleet-gated")
    assert {r.target.name for r in report.results if r.target.id.lower() in patched} == {
        f"app-{i:02}" for i in range(1, 6)
    }
    assert len(executions(truth, "fleet-gated-gate-health")) == 5  # batches 1 and 2


async def test_error_budget_stops_new_launches_at_the_right_count() -> None:
    overrides = [
        {"names": ["app-12"], "power_state": "deallocated"},
        {"names": ["app-*"], "outcome": "disk-full"},
    ]
    profile = simkit.profile("small", overrides=overrides)
    spec = job("budget", names=("app-*",))
    spec = dataclasses.replace(
        spec, rollout=RolloutPolicy(order=Order.NAME, max_errors=Amount(count=2))
    )
    spec = dataclasses.replace(spec, concurrency=dataclasses.replace(spec.concurrency, count=1))
    async with sim_backend(profile, SCALE) as (emu, backend):
        report = await api.run_async(spec, backend)
        truth = await simkit.ground_truth(emu, "executions")
    assert report.ended == "halted-by-error-budget"
    assert len(executions(truth, "fleet-budget")) == 3  # max_errors + 1, serially
    assert sum(r.status is Status.NOT_STARTED for r in report.results) == 8


async def test_deadline_stops_launching() -> None:
    profile = simkit.profile("small", script=LONG_SCRIPTS)
    spec = rollout(
        job("late", names=("app-0*",), timeout_s=1200), deadline_s=120, cancel_running=True
    )
    spec = dataclasses.replace(spec, concurrency=dataclasses.replace(spec.concurrency, count=3))
    async with sim_backend(profile, SCALE) as (emu, backend):
        report = await api.run_async(spec, backend)
        truth = await simkit.ground_truth(emu, "executions")
    assert report.ended == "deadline"
    statuses = [r.status for r in report.results]
    assert statuses.count(Status.CANCELED) == 3 and statuses.count(Status.NOT_STARTED) == 6
    assert len(executions(truth, "fleet-late")) == 3


async def test_second_interrupt_deletes_in_flight_commands_which_never_finish() -> None:
    profile = simkit.profile("small", script=LONG_SCRIPTS)
    spec = job("cancel", names=("app-*",), timeout_s=1200)
    spec = dataclasses.replace(spec, concurrency=dataclasses.replace(spec.concurrency, count=4))
    control = RunControl()
    running = anyio.Event()

    class WhenFourRun(api.RunObserver):
        def progress(self, progress: Progress) -> None:
            if progress.running >= 4:
                running.set()

    async def interrupt_twice() -> None:
        await running.wait()
        control.interrupt()
        assert not control.launching_allowed
        control.interrupt()

    async with sim_backend(profile, SCALE) as (emu, backend):
        async with anyio.create_task_group() as tg:
            tg.start_soon(interrupt_twice)
            report = await api.run_async(spec, backend, control=control, observer=WhenFourRun())
        first = executions(await simkit.ground_truth(emu, "executions"), "fleet-cancel")
        past = emu.world.clock.now() + 250  # every script's planned end lies before this
        while emu.world.clock.now() < past:  # noqa: ASYNC110 - waiting on the emulator's clock
            await anyio.sleep(0.05)
        later = executions(await simkit.ground_truth(emu, "executions"), "fleet-cancel")
    assert report.ended == "canceled"
    canceled = [r for r in report.results if r.status is Status.CANCELED]
    assert len(canceled) == 4
    assert sum(r.status is Status.NOT_STARTED for r in report.results) == 7
    assert sorted(first) == sorted(r.target.id.lower() for r in canceled)  # nothing else ran
    for truth in (first, later):
        for rows in truth.values():
            assert [(row["state"], row["canceled"]) for row in rows] == [("Canceled", True)]

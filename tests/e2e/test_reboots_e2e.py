"""Reboots end to end (issue #19): fleet's library through the real Azure SDK over HTTPS to the
emulator, whose ground truth (``/_sim/restarts``, ``/_sim/executions``) says which VMs really
restarted and when their agents were back. Scripts print "REBOOT REQUIRED" on some VMs (the
emulator's seeded outcomes); VMs come back in 50 s (boot 30 s, agent 20 s), web-06 slowly,
web-07's agent never, web-08 stays stopped."""

from __future__ import annotations

import dataclasses
from typing import Any

import anyio
import pytest

from fleet import api
from fleet.model import (
    Amount,
    HealthGate,
    Reboot,
    RebootOutcome,
    RebootPolicy,
    RolloutPolicy,
    RunReport,
    ScriptSource,
    ScriptSpec,
    SourceKind,
    Status,
    TargetResult,
)
from fleet.rollout.control import RunControl
from fleet.sim.profile import parse_profile
from tests import simkit
from tests.e2e.harness import job, sim_backend

pytestmark = pytest.mark.anyio

SCALE = 50.0
MARKER = "REBOOT REQUIRED"


def _fixed(seconds: float) -> dict[str, float]:
    return {"median": seconds, "sigma": 0.0, "min": seconds, "max": seconds}


def estate(boot_s: float = 30, faults: dict[str, Any] | None = None) -> Any:
    data: dict[str, Any] = {
        "name": "reboots",
        "seed": 11,
        "subscriptions": [{
            "id": "00000000-0000-4000-8000-0000000000b0",
            "name": "sim-reboots",
            "resource_groups": [{
                "name": "rg-rb",
                "location": "eastus",
                "vms": [{"count": 8, "name": "web-{i:02d}", "zones": ["1", "2"]}],
                "scale_sets": [
                    {"name": "ss-u", "mode": "Uniform", "capacity": 3},
                    {"name": "ss-f", "mode": "Flexible", "capacity": 2},
                ],
            }],
        }],
        "overrides": [{"names": ["web-06", "web-07", "web-08", "ss-u_0"], "outcome": "reboot"}],
        "restart": {
            "operation": _fixed(5), "boot": _fixed(boot_s), "agent": _fixed(20),
            "slow": {"names": ["web-06"], "agent": _fixed(200)},
            "agent_never": {"names": ["web-07"]},
            "stays_stopped": {"names": ["web-08"]},
        },
        "script": {
            "pending": _fixed(1.0),
            "duration": _fixed(5.0),
            "outcomes": [
                {"name": "ok", "weight": 0.5, "output": "{vm_name}: patched\n"},
                {"name": "reboot", "weight": 0.5, "output": f"{{vm_name}}: patched; {MARKER}\n"},
            ],
        },
        "throttling": {"enabled": True},
        "faults": faults or {},
    }  # fmt: skip
    return parse_profile(data, source="reboots")


def patch_job(**rollout: Any) -> Any:
    policy = RebootPolicy(Reboot.IF_REQUIRED, marker=MARKER, timeout_s=600)
    return dataclasses.replace(
        job("patch", script="patch --security"),
        rollout=RolloutPolicy(reboot=policy, **rollout),
    )


def by_name(report: RunReport) -> dict[str, TargetResult]:
    return {r.target.name: r for r in report.results}


def short(target_id: str) -> str:
    """``.../virtualMachines/web-01`` → web-01; a Uniform instance → ss-u_0."""
    parts = target_id.split("/")
    if parts[-4].lower() == "virtualmachinescalesets":
        return f"{parts[-3]}_{parts[-1]}"
    return parts[-1]


async def test_if_required_reboots_exactly_the_vms_that_asked_and_waits_for_them() -> None:
    async with sim_backend(estate(), SCALE) as (emu, backend):
        report = await api.run_async(patch_job(), backend)
        restarts = await simkit.ground_truth(emu, "restarts")
        executions = await simkit.ground_truth(emu, "executions")
        stats = await simkit.ground_truth(emu, "stats")
    asked = {short(r["target"]) for r in executions["executions"] if r["outcome"] == "reboot"}
    per_target = {short(t): n for t, n in restarts["restarts_per_target"].items()}
    assert {"web-06", "web-07", "web-08", "ss-u_0"} <= asked and len(asked) < 13
    assert per_target == dict.fromkeys(asked, 1)  # exactly those, each once
    results = by_name(report)
    assert len(results) == 13
    for name, result in results.items():
        if name not in asked:
            assert (result.status, result.reboot) == (Status.SUCCEEDED, None), name
            continue
        record = result.reboot
        assert record is not None and record.required == f"the output matched {MARKER!r}"
        if name in ("web-07", "web-08"):  # the agent never back; the VM stays stopped
            assert result.status is Status.REBOOT_TIMED_OUT, (name, result.reason)
            assert record.outcome is RebootOutcome.TIMED_OUT
        else:
            assert result.status is Status.SUCCEEDED, (name, result.reason)
            assert record.outcome is RebootOutcome.DONE and record.seconds_to_ready is not None
            expected = 230 if name == "web-06" else 50  # boot + agent, Azure-seconds
            assert expected <= record.seconds_to_ready <= expected + 75, (name, record)
            # budgeted: a few probes, then about one read a minute at most
            assert record.reads <= 6 + record.seconds_to_ready / 30, (name, record)
    assert "agent Not Ready" in (results["web-07"].reason or "")
    assert "PowerState/stopped" in (results["web-08"].reason or "")
    # each restart went through fleet's throttled pipeline as one ARM write (13 PUTs besides);
    # the Uniform instance's through the scale-set VM API, the others' (Flexible too) the VM API
    requests = stats["requests"]
    assert report.arm.requests["writes"] == 13 + len(asked)
    uniform = sum(name.startswith("ss-u_") for name in asked)
    assert requests.get("VirtualMachineScaleSetVMs_Restart") == uniform
    assert requests.get("VirtualMachines_Restart") == len(asked) - uniform
    assert report.arm.throttled == 0


async def test_the_gate_runs_after_its_batch_is_back() -> None:
    gate = HealthGate("health", ScriptSpec(ScriptSource(SourceKind.INLINE, "check"), timeout_s=60))
    spec = patch_job(batches=(Amount(count=5), Amount(percent=100)), gates=(gate,))
    spec = dataclasses.replace(spec, selector=dataclasses.replace(spec.selector, names=("web-*",)))
    async with sim_backend(estate(), SCALE) as (emu, backend):
        report = await api.run_async(spec, backend)
        restarts = await simkit.ground_truth(emu, "restarts")
        executions = await simkit.ground_truth(emu, "executions")
    first = set(report.rollout.batches[0].target_ids)  # type: ignore[union-attr]
    back = {r["target"]: r["agent_ready_at"] for r in restarts["restarts"]}
    gate_runs = [r for r in executions["executions"] if r["run_command"].endswith("-gate-health")]
    rebooted_first = [t for t in first if t in back and back[t] is not None]
    assert rebooted_first, "the first batch must hold a rebooted VM for this test to mean much"
    assert {r["target"] for r in gate_runs} >= set(rebooted_first)
    last_back = max(back[t] for t in rebooted_first)
    assert all(r["created_at"] >= last_back for r in gate_runs)  # only once all were back
    assert [g.passed for g in report.rollout.gates] == [True]  # type: ignore[union-attr]


async def test_a_stop_during_reboots_sends_no_new_restart_and_says_what_it_left() -> None:
    """VMs take 5 minutes to boot here; the run is stopped as soon as the first restart is
    accepted, with a minute's grace: the VMs already restarting are reported as such (Error,
    the VM was restarting when the run stopped), the others that asked keep their script's
    Succeeded with a reboot required and not requested — and Azure restarted exactly the
    former, once each."""
    control = RunControl()
    async with sim_backend(estate(boot_s=300), SCALE) as (emu, backend):

        async def stop_at_the_first_restart() -> None:
            for _ in range(2000):  # bounded: 2000 x 10 ms
                if (await simkit.ground_truth(emu, "restarts"))["restart_count"]:
                    break
                await anyio.sleep(0.01)
            control.stop()

        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_at_the_first_restart)
            report = await api.run_async(patch_job(cancel_grace_s=60), backend, control=control)
        restarts = await simkit.ground_truth(emu, "restarts")
    per_target = {short(t): n for t, n in restarts["restarts_per_target"].items()}
    results = by_name(report)
    requested = {n for n, r in results.items() if r.reboot is not None and r.reboot.requested}
    left = {n for n, r in results.items() if r.reboot is not None and not r.reboot.requested}
    assert report.ended == "canceled" and requested
    assert per_target == dict.fromkeys(requested, 1)
    for name in requested:
        result = results[name]
        assert result.status is Status.ERROR, (name, result.reason)
        assert "was restarting" in (result.reason or "") and "PowerState/starting" in result.reason
        assert result.reboot is not None and result.reboot.outcome is RebootOutcome.ABANDONED
    for name in left:
        result = results[name]
        assert result.status is Status.SUCCEEDED and result.reboot is not None
        assert result.reboot.outcome is RebootOutcome.NOT_REQUESTED
        assert "the run stopped" in (result.reboot.detail or "")


RESTARTS = ["VirtualMachines_Restart", "VirtualMachineScaleSetVMs_Restart"]


async def test_a_restart_whose_answer_is_lost_after_azure_took_it_is_never_sent_again() -> None:
    """Every restart's connection drops after Azure processed it: no layer re-sends the POST
    (fleet.azure.send_once), fleet reads the instance view, finds the VM restarting and waits.
    Each VM that asked restarted once; every restart request reached the emulator once."""
    drops = {"connection_resets": {"rate": 1.0, "after_processing": 1.0, "operations": RESTARTS}}
    spec = patch_job()
    spec = dataclasses.replace(
        spec, selector=dataclasses.replace(spec.selector, names=("web-0[1-5]", "ss-*"))
    )
    async with sim_backend(estate(faults=drops), SCALE) as (emu, backend):
        report = await api.run_async(spec, backend)
        restarts = await simkit.ground_truth(emu, "restarts")
        stats = await simkit.ground_truth(emu, "stats")
    rebooted = {n: r for n, r in by_name(report).items() if r.reboot is not None}
    assert rebooted and all(r.reboot.outcome is RebootOutcome.DONE for r in rebooted.values())  # type: ignore[union-attr]
    assert {short(t): n for t, n in restarts["restarts_per_target"].items()} == dict.fromkeys(
        rebooted, 1
    )
    assert sum(stats["requests"].get(op, 0) for op in RESTARTS) == len(rebooted)
    assert stats["faults"] == {"reset_after": len(rebooted)}


async def test_restarts_lost_before_azure_saw_them_are_sent_again_then_given_up() -> None:
    """Every restart's connection drops before Azure saw it: each loss is proven (the VM
    untouched since the reading before) and the restart sent again — 4 times at most; then the
    target is Error, saying Azure proved each attempt never arrived. Nothing restarted."""
    lost = {"connection_resets": {"rate": 1.0, "after_processing": 0.0, "operations": RESTARTS}}
    spec = patch_job()
    spec = dataclasses.replace(spec, selector=dataclasses.replace(spec.selector, names=("web-06",)))
    async with sim_backend(estate(faults=lost), SCALE) as (emu, backend):
        (result,) = (await api.run_async(spec, backend)).results
        restarts = await simkit.ground_truth(emu, "restarts")
        stats = await simkit.ground_truth(emu, "stats")
    assert restarts["restart_count"] == 0
    assert stats["faults"] == {"reset_before": 4}  # four restart requests reached the emulator
    assert result.status is Status.ERROR and result.reboot is not None
    assert result.reboot.outcome is RebootOutcome.REFUSED and result.reboot.restarts == 4
    assert "Azure proved each attempt never arrived" in (result.reason or "")

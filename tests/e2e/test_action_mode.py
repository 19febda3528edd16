"""``mode: action`` end to end through the real SDK over HTTPS against the emulator: on the mixed
demo fleet (Linux and Windows VMs, Uniform and Flexible instances, dead agents, a wedged
script, failing scripts on both OSes, a read-only resource group) every target's status and
exit code equal the emulator's ground truth — although Azure reports every action run
"succeeded" and gives no exit code — and each launched target ran exactly once; a VM busy with
another action command (Azure's 409) is waited for, or reported when it stays busy; built-in
commands run wrapped too; batches, gates, the error budget and the success exit codes act on the
exit codes fleet recovered."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from fleet import api
from fleet.engine.runner import EngineSettings
from fleet.model import (
    Amount,
    Mode,
    Order,
    RebootOutcome,
    RolloutPolicy,
    ScriptSource,
    ScriptSpec,
    SourceKind,
    Status,
)
from fleet.spec import load_job_spec
from tests import simkit
from tests.e2e import test_reboots_e2e as reboots
from tests.e2e.harness import job, sim_backend

pytestmark = pytest.mark.anyio

SCALE = 40.0
ACTION_KEYS = ("action:RunShellScript", "action:RunPowerShellScript")


def _action(spec: Any) -> Any:
    return dataclasses.replace(spec, mode=Mode.ACTION)


def _truth_by_target(truth: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = [r for r in truth["executions"] if r["kind"] == "action"]
    return {r["target"].lower(): r for r in rows}


def _expected(row: dict[str, Any], action: dict[str, Any] | None) -> tuple[Status, int | None]:
    """What fleet must report for an inventory row, given the action run the emulator made."""
    if row["power_state"] != "running":
        return Status.SKIPPED, None
    if row["resource_group"].lower() == "rg-finance":
        return Status.ACCESS_DENIED, None
    if row["agent"] != "ready":
        return Status.AGENT_NOT_READY, None  # never picked up (Pending at pending_timeout)
    if row["script_fault"] == "wedged":
        return Status.WEDGED, None
    assert action is not None and action["state"] in ("Succeeded", "Failed"), (row, action)
    code = action["exit_code"]
    return (Status.SUCCEEDED if code == 0 else Status.FAILED), code


async def test_demo_fleet_in_action_mode_matches_ground_truth() -> None:
    profile = simkit.profile("demo", faults={})
    spec = _action(job("mixed", timeout_s=60))
    # dead agents end at pending_timeout (their operation would fail ~25 minutes in)
    spec = dataclasses.replace(spec, rollout=RolloutPolicy(pending_timeout_s=120))
    async with sim_backend(profile, SCALE) as (emu, backend):
        settings = EngineSettings(time_scale=SCALE, wedge_grace_s=30)
        report = await api.run_async(spec, backend, settings=settings)
        inventory = (await simkit.ground_truth(emu, "inventory"))["targets"]
        truth = await simkit.ground_truth(emu, "executions")
    by_id = {r.target.id.lower(): r for r in report.results}
    actions = _truth_by_target(truth)
    assert len(report.results) == len(inventory) == 200
    for row in inventory:
        result = by_id[row["id"].lower()]
        status, code = _expected(row, actions.get(row["id"].lower()))
        assert (result.status, result.exit_code) == (status, code), (row["name"], result)
    failed = [r for r in report.results if r.status is Status.FAILED]
    assert {r.target.os for r in failed} == {"linux", "windows"}  # non-zero exits on both OSes
    assert all(r.exit_code not in (None, 0) and r.error for r in failed)
    for result in report.results:
        assert "FLEET_EXIT" not in result.output  # the marker never shows
    ran = [r for r in report.results if r.status in (Status.SUCCEEDED, Status.FAILED)]
    executed = truth["executed_per_target"]
    for result in ran:
        counts = executed[result.target.id]
        assert sum(counts.get(k, 0) for k in ACTION_KEYS) == 1, result.target.name
        assert not any(k.startswith("fleet-") for k in counts)  # no managed run command
    # the operation is polled on the engine's budget (~1.1 polls per target measured): at most
    # 2 on average, the promise of managed mode too (tests/engine/test_polling.py)
    polls = [r.polls for r in ran]
    assert min(polls) >= 1 and sum(polls) / len(polls) <= 2.0
    assert truth["actions"]["conflicts"] == 0
    assert report.arm.throttled == 0


def _busy_profile() -> Any:
    """Four Linux VMs; ``slow-1``'s scripts run 300 s, the others' 5 s."""
    fixed = {"median": 5.0, "sigma": 0.0, "min": 5.0, "max": 5.0}
    slow = {"median": 300.0, "sigma": 0.0, "min": 300.0, "max": 300.0}
    vms = [{"count": 2, "name": "slow-{i}", "os": "linux"}, {"count": 2, "name": "vm-{i}"}]
    return simkit.parse_profile(
        {
            "name": "busy",
            "seed": 1,
            "subscriptions": [
                {
                    "id": "00000000-0000-4000-8000-0000000000b1",
                    "name": "sim-busy",
                    "resource_groups": [{"name": "rg-busy", "location": "eastus", "vms": vms}],
                }
            ],
            "overrides": [{"names": ["slow-*"], "outcome": "slow"}],
            "script": {
                "pending": {"median": 1.0, "sigma": 0.0, "min": 1.0, "max": 1.0},
                "duration": fixed,
                "outcomes": [
                    {"name": "ok", "weight": 1.0, "output": "ok\n"},
                    {"name": "slow", "weight": 0.0, "output": "slow\n", "duration": slow},
                ],
            },
            "throttling": {"enabled": False},
        },
        source="busy-test",
    )


async def _post_raw(emu: Any, target_id: str, script: str) -> None:
    """Another tool's action run command (``az vm run-command invoke``)."""
    body = {"commandId": "RunShellScript", "script": [script]}
    async with simkit.raw(emu) as s:
        url = target_id + "/runCommand"
        async with s.post(url, params={"api-version": simkit.COMPUTE_API}, json=body) as r:
            assert r.status == 202, await r.text()


async def test_a_busy_vm_is_waited_for_and_one_busy_too_long_is_reported() -> None:
    profile = _busy_profile()
    async with sim_backend(profile, SCALE) as (emu, backend):
        inventory = {t["name"]: t["id"] for t in (await simkit.ground_truth(emu, "inventory"))[
            "targets"]}  # fmt: skip
        await _post_raw(emu, inventory["vm-1"], "echo other tool")  # busy for ~20 s
        await _post_raw(emu, inventory["slow-1"], "echo other tool")  # busy for 300 s
        spec = _action(job("busy", timeout_s=120, names=("vm-*", "slow-1")))
        settings = EngineSettings(time_scale=SCALE, wedge_grace_s=30)
        report = await api.run_async(spec, backend, settings=settings)
        truth = await simkit.ground_truth(emu, "executions")
    results = {r.target.name: r for r in report.results}
    assert results["vm-2"].status is Status.SUCCEEDED and results["vm-2"].attempts == 1
    waited = results["vm-1"]
    assert waited.status is Status.SUCCEEDED and waited.attempts >= 2  # refused, then sent
    gave_up = results["slow-1"]
    assert gave_up.status is Status.CONFLICT
    assert gave_up.reason is not None and "one at a time per VM" in gave_up.reason
    executed = truth["executed_per_target"]
    assert executed[inventory["vm-1"]]["action:RunShellScript"] == 2  # the other tool's, ours
    assert executed[inventory["slow-1"]]["action:RunShellScript"] == 1  # the other tool's only
    assert truth["actions"]["conflicts"] == waited.attempts - 1 + gave_up.attempts


async def test_built_in_commands_run_wrapped_with_their_catalog_script() -> None:
    profile = simkit.profile("demo", faults={})
    script = ScriptSpec(
        None,
        linux=ScriptSource(SourceKind.COMMAND_ID, "ifconfig"),
        windows=ScriptSource(SourceKind.COMMAND_ID, "IPConfig"),
        timeout_s=120,
    )
    base = job("builtin", names=("db-0[1-4]", "app-win-0*"))
    spec = _action(dataclasses.replace(base, script=script))
    async with sim_backend(profile, SCALE) as (emu, backend):
        report = await api.run_async(spec, backend, settings=EngineSettings(time_scale=SCALE))
        truth = await simkit.ground_truth(emu, "executions")
        stats = await simkit.ground_truth(emu)
    actions = _truth_by_target(truth)
    ran = [r for r in report.results if r.status is not Status.SKIPPED]
    assert {r.target.os for r in ran} == {"linux", "windows"}
    for result in ran:
        row = actions[result.target.id.lower()]
        assert row["run_command"] == (
            "action:ifconfig" if result.target.os == "linux" else "action:IPConfig"
        )
        assert result.exit_code == row["exit_code"] is not None
    # each command's document is read once per location, not once per target
    assert stats["requests"]["RunCommandCatalog_Get"] <= 2 * len({r.target.location for r in ran})
    json.dumps([r.output for r in ran])  # outputs are plain text


async def test_posts_whose_answers_are_lost_run_once() -> None:
    """Half the POSTs lose their connection — before Azure processed them (no command: fleet
    proves it on the VM's extension and sends again) or after (the command runs: fleet finds
    this run's marker on the extension and never sends it again)."""
    resets = {
        "rate": 0.5,
        "after_processing": 0.5,
        "operations": ["VirtualMachines_RunCommand", "VirtualMachineScaleSetVMs_RunCommand"],
    }
    profile = simkit.profile("small", faults={"connection_resets": resets})
    spec = _action(job("lossy", timeout_s=120))
    async with sim_backend(profile, SCALE) as (emu, backend):
        report = await api.run_async(spec, backend, settings=EngineSettings(time_scale=SCALE))
        truth = await simkit.ground_truth(emu, "executions")
        stats = await simkit.ground_truth(emu)
    ran = [r for r in report.results if r.status is not Status.SKIPPED]
    assert ran and all(r.status in (Status.SUCCEEDED, Status.FAILED) for r in ran), [
        (r.target.name, r.status, r.reason) for r in ran
    ]
    executed = truth["executed_per_target"]
    assert all(executed[r.target.id]["action:RunShellScript"] == 1 for r in ran)
    actions = _truth_by_target(truth)
    assert all(r.exit_code == actions[r.target.id.lower()]["exit_code"] for r in ran)
    processed = sum(stats["requests"].get(op, 0) for op in resets["operations"])
    assert processed == len(ran)  # Azure processed one POST per target
    assert sum(r.attempts for r in ran) > processed  # some were lost before it, and sent again


async def test_a_rollout_in_action_mode_batches_gates_and_halts_like_a_managed_one(
    tmp_path: Path,
) -> None:
    """A job file with mode: action: the web tier in growing batches, zone by zone, with the
    shipped health check as the gate (an action command too) — the gate trips on web-005's
    full disk after its batch, and nothing after that batch is launched."""
    scripts = simkit.ROOT / "configs" / "jobs" / "scripts"
    job_file = tmp_path / "rolling-check.yaml"
    job_file.write_text(
        "name: rolling-check\nmode: action\n"
        "targets: {resource_groups: [rg-web], names: ['web-0*'], include_scale_sets: false}\n"
        f"script: {{file: {scripts / 'health-check.sh'}, timeout: 2m}}\n"
        "rollout:\n  batches: [1, 3, 2, '100%']\n  order: name\n"
        f"  health_gate: {{script: {{file: {scripts / 'health-check.sh'}}}, "
        "expect_output: 'status:\\s+OK'}\n",
        encoding="utf-8",
    )
    spec = load_job_spec(job_file)
    assert spec.mode is Mode.ACTION
    async with sim_backend(simkit.profile("demo", faults={}), SCALE) as (emu, backend):
        report = await api.run_async(spec, backend, settings=EngineSettings(time_scale=SCALE))
        truth = await simkit.ground_truth(emu, "executions")
    assert report.ended == "halted-by-gate"
    assert report.ended_detail is not None and "web-005" in report.ended_detail
    assert report.rollout is not None
    gates = report.rollout.gates
    assert [g.passed for g in gates] == [True, True, False]  # batch 3: web-005 and web-006
    by_name = {r.target.name: r for r in report.results}
    assert by_name["web-005"].status is Status.FAILED and by_name["web-005"].exit_code == 1
    later = [r for r in report.results if r.target.name > "web-006"]  # after batch 3
    assert {r.status for r in later} == {Status.NOT_STARTED, Status.SKIPPED}  # 2 deallocated
    executed = truth["executed_per_target"]
    gated = {t for g in gates for t in g.target_ids}
    for result in report.results:
        runs = executed.get(result.target.id, {}).get("action:RunShellScript", 0)
        launched = result.status in (Status.SUCCEEDED, Status.FAILED)
        assert runs == launched + (result.target.id in gated), result.target.name


async def test_the_error_budget_counts_the_failures_azure_reports_succeeded() -> None:
    """Azure reports every one of these action runs "succeeded"; the exit codes fleet recovers
    from its marker are non-zero, so they spend the error budget, which halts launching after
    max_errors + 1 failures, one target at a time (as in managed mode)."""
    overrides = [
        {"names": ["app-12"], "power_state": "deallocated"},
        {"names": ["app-*"], "outcome": "disk-full"},
    ]
    profile = simkit.profile("small", overrides=overrides)
    spec = _action(job("budget", names=("app-*",)))
    spec = dataclasses.replace(
        spec, rollout=RolloutPolicy(order=Order.NAME, max_errors=Amount(count=2))
    )
    spec = dataclasses.replace(spec, concurrency=dataclasses.replace(spec.concurrency, count=1))
    async with sim_backend(profile, SCALE) as (emu, backend):
        report = await api.run_async(spec, backend, settings=EngineSettings(time_scale=SCALE))
        truth = await simkit.ground_truth(emu, "executions")
    assert report.ended == "halted-by-error-budget"
    actions = [r for r in truth["executions"] if r["kind"] == "action"]
    assert len(actions) == 3  # max_errors + 1, serially
    assert {r["operation_status"] for r in actions} == {"Succeeded"}  # what Azure says
    failed = [r for r in report.results if r.status is Status.FAILED]
    assert len(failed) == 3 and all(r.exit_code not in (None, 0) for r in failed)
    assert sum(r.status is Status.NOT_STARTED for r in report.results) == 8


async def test_a_success_exit_code_of_the_job_succeeds_in_action_mode_too() -> None:
    """``success_exit_codes: [0, 1]``: the exit code 1 fleet recovers from its marker is a
    success (the report keeps the code), so nothing spends the error budget."""
    overrides = [{"names": ["app-0*"], "outcome": "disk-full"}]  # exit code 1
    profile = simkit.profile("small", overrides=overrides)
    spec = _action(job("codes", names=("app-0*",)))
    spec = dataclasses.replace(
        spec,
        script=dataclasses.replace(spec.script, success_exit_codes=(0, 1)),
        rollout=RolloutPolicy(max_errors=Amount(count=0)),
    )
    async with sim_backend(profile, SCALE) as (_emu, backend):
        report = await api.run_async(spec, backend, settings=EngineSettings(time_scale=SCALE))
    ran = [r for r in report.results if r.status is not Status.SKIPPED]
    assert report.ended == "completed" and ran
    assert all((r.status, r.exit_code) == (Status.SUCCEEDED, 1) for r in ran), ran


async def test_reboots_follow_action_run_commands_as_they_follow_managed_ones() -> None:
    """#19's reboot after the script, in action mode: the output fleet reads from the action
    result (its marker stripped) asks for the reboot, the VMs that asked are restarted once
    each and waited for, those that never come back are RebootTimedOut (the estate and job of
    tests/e2e/test_reboots_e2e.py)."""
    async with sim_backend(reboots.estate(), reboots.SCALE) as (emu, backend):
        report = await api.run_async(_action(reboots.patch_job()), backend)
        restarts = await simkit.ground_truth(emu, "restarts")
        truth = await simkit.ground_truth(emu, "executions")
    actions = [r for r in truth["executions"] if r["kind"] == "action"]
    asked = {reboots.short(r["target"]) for r in actions if r["outcome"] == "reboot"}
    assert {"web-06", "web-07", "web-08", "ss-u_0"} <= asked and len(asked) < 13
    assert {reboots.short(t): n for t, n in restarts["restarts_per_target"].items()} == (
        dict.fromkeys(asked, 1)
    )
    assert len(actions) == 13 and all(r["started"] for r in actions)  # one action run each
    for result in report.results:
        name = reboots.short(result.target.id)
        if name not in asked:
            assert (result.status, result.reboot) == (Status.SUCCEEDED, None), name
        elif name in ("web-07", "web-08"):
            assert result.status is Status.REBOOT_TIMED_OUT, (name, result.reason)
        else:
            assert result.status is Status.SUCCEEDED and result.reboot is not None, name
            assert result.reboot.outcome is RebootOutcome.DONE, (name, result.reboot)

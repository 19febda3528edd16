"""What travels between the client, the workflow and the activities survives the trip: a plan
(the workflow's view of its job: no script) and a report, value for value."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fleet.model import (
    Amount,
    ArmCounters,
    Batch,
    BatchRecord,
    Cleanup,
    Concurrency,
    Deleted,
    DeleteReason,
    Expectations,
    GateRecord,
    HealthGate,
    JobSpec,
    Order,
    RolloutPlan,
    RolloutPolicy,
    RolloutRecord,
    RunPlan,
    RunReport,
    ScriptIdentity,
    ScriptSpec,
    Selector,
    SourceKind,
    Status,
    TargetResult,
    ValueCheck,
)
from fleet.temporal.codec import plan_from_json, plan_to_json, report_from_json, report_to_json
from tests.fakes import make_target

T1 = make_target("web-1", tags={"env": "prod", "role": "web"})
T2 = make_target("web-2", os="windows")
PROBE = make_target("probe-1")
EXPECT = Expectations(
    exit_codes=(0, 100), output="OK", output_absent="ERROR",
    values=(ValueCheck("disk", r"used=(\d+)%", max=90.0),),
)  # fmt: skip


def trip(value: dict[str, object]) -> dict[str, object]:
    return json.loads(json.dumps(value))


def test_a_plan_survives_the_trip_with_the_workflows_view_of_its_job() -> None:
    gate = HealthGate("smoke", ScriptSpec(None), 3, "status: OK", ("probe-*",))
    policy = RolloutPolicy(
        batches=(Amount(count=1), Amount(percent=50.0)), order=Order.ZONE_BY_ZONE, seed=7,
        max_errors=Amount(percent=5.0), count_platform_failures=True, pause_s=120,
        gates=(gate,), deadline_s=3600, cancel_grace_s=30, cancel_running=True,
        confirm_over=5, cleanup=Cleanup.DELETE_ON_SUCCESS, pending_timeout_s=900,
    )  # fmt: skip
    spec = JobSpec("patch", Selector(), ScriptSpec(None), Concurrency(percent=25.0),
                   rollout=policy, expect=EXPECT)  # fmt: skip
    stopped = TargetResult(T2, Status.SKIPPED, reason="not running")
    plan = RunPlan(
        "run-1", spec, selected=(T1, T2), skipped=(stopped,),
        rollout=RolloutPlan(Order.ZONE_BY_ZONE, (Batch(1, "zone 1", (T1,)),)),
        sentinels=(PROBE,),
    )  # fmt: skip
    assert plan_from_json(trip(plan_to_json(plan))) == plan


def test_a_report_survives_the_trip() -> None:
    at = datetime(2026, 3, 1, 12, 0, 5, 123456, tzinfo=UTC)
    result = TargetResult(
        T1, Status.FAILED, reason="exit code 1", exit_code=1, output="disk used=95%\n",
        error="boom", execution_state="Failed", started_at=at, ended_at=at, attempts=2,
        polls=3, deleted=(Deleted("fleet-old", DeleteReason.RECLAIMED, None),),
    )  # fmt: skip
    record = RolloutRecord(
        "zone-by-zone", (BatchRecord(1, "zone 1", (T1.id,), True),),
        (GateRecord("smoke", 1, False, "1 of 1 failed", (PROBE.id,)),), 2, 1, 0, True,
    )  # fmt: skip
    report = RunReport(
        "run-1", "patch", at, at, (result, TargetResult(T2, Status.NOT_STARTED, reason="x")),
        ArmCounters({"reads": 4, "writes": 1}, 2, 1.5, 1), "halted-by-gate",
        "gate 'smoke' failed after batch 1", record, simulated=True,
        script=(
            ScriptIdentity("linux", SourceKind.INLINE, sha256="ab" * 32),
            ScriptIdentity("windows", SourceKind.COMMAND_ID, command_id="RunPowerShellScript"),
        ),
        expect=EXPECT, cleanup="delete-on-success",
    )  # fmt: skip
    assert report_from_json(trip(report_to_json(report))) == report

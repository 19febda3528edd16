"""Report documents for the format tests (JUnit, CSV, HTML, the dashboard): a realistic rolled
out health check over the emulator's output templates, with every kind of outcome and the
hostile outputs a VM can print (markup, control characters, spreadsheet formulas, non-ASCII)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fleet.model import (
    ArmCounters,
    BatchRecord,
    Expectations,
    GateRecord,
    RolloutRecord,
    RunReport,
    Status,
    TargetResult,
    ValueCheck,
)
from fleet.report.json_report import report_to_dict
from fleet.secrets import NO_SECRETS, Secrets
from tests.report.test_groups import fleet_results, make_target

T0 = datetime(2025, 3, 1, 10, 0, 0, tzinfo=UTC)
XSS = "<script>alert('owned')</script><img src=x onerror=alert(1)>"
HOSTILE_OUTPUT = (
    f'{XSS}\n=HYPERLINK("http://evil")\nbell\x07 nul\x00 esc\x1b[31m red\nnaïve ✓ 日本\n'
)


def _timed(result: TargetResult, i: int) -> TargetResult:
    if result.status in (Status.SKIPPED, Status.NOT_STARTED):
        return result
    start = T0 + timedelta(seconds=i % 30)
    return TargetResult(
        **{**result.__dict__, "started_at": start, "ended_at": start + timedelta(seconds=42.5)}
    )


def sample_results(n_ok: int = 36) -> list[TargetResult]:
    """n_ok healthy targets, 3 full disks, 1 stopped service, and one of each other kind."""
    results = fleet_results(n_ok=n_ok)
    results += [
        TargetResult(make_target("off-1"), Status.SKIPPED, reason="VM is deallocated"),
        TargetResult(
            make_target("locked-1", rg="rg-locked"),
            Status.ACCESS_DENIED,
            reason="AuthorizationFailed: no write access to rg-locked",
        ),
        TargetResult(
            make_target("wedged-1"),
            Status.TIMED_OUT,
            exit_code=-1,
            output="step 1\nstep 2\n",
            reason="Azure stopped the script at its timeout (300 s)",
            execution_state="TimedOut",
        ),
        TargetResult(
            make_target("evil-1"),
            Status.FAILED,
            exit_code=3,
            output=HOSTILE_OUTPUT,
            error=f"-1 {XSS}\n",
            execution_state="Failed",
            reason=f"exit code 3 {XSS}",
        ),
        TargetResult(make_target("later-1"), Status.NOT_STARTED, reason="halted by a health gate"),
        # Same name in another resource group: JUnit names must still be unique.
        TargetResult(
            make_target("web-001", rg="rg-dr"), Status.SUCCEEDED, exit_code=0, output="OK\n"
        ),
    ]
    return [_timed(r, i) for i, r in enumerate(results)]


def sample_rollout(results: list[TargetResult]) -> RolloutRecord:
    ids = [r.target.id for r in results if r.status is not Status.NOT_STARTED]
    later = [r.target.id for r in results if r.status is Status.NOT_STARTED]
    return RolloutRecord(
        order="zone-by-zone",
        batches=(
            BatchRecord(1, "zone 1", tuple(ids[:1]), True),
            BatchRecord(2, "zone 1", tuple(ids[1:10]), True),
            BatchRecord(3, "zone 1", tuple(ids[10:]), True),
            BatchRecord(4, "zone 2", tuple(later), False),
        ),
        gates=(
            GateRecord("health", 1, True, "ok", tuple(ids[:1])),
            GateRecord("health", 2, True, "ok", tuple(ids[1:10])),
            GateRecord("health", 3, False, f"web-905: disk full {XSS}", tuple(ids[10:])),
        ),
        max_errors=5,
        script_failures=5,
        platform_failures=1,
    )


#: The job's expect: the disk at most 50% used (the templates print "... used (46%) ...").
DISK_EXPECT = Expectations(values=(ValueCheck("disk_used_pct", r"used \((\d+)%\)", max=50),))


def sample_report(
    n_ok: int = 36, *, ended: str = "halted-by-gate", expect: Expectations | None = None
) -> RunReport:
    results = sample_results(n_ok)
    return RunReport(
        run_id="r-20250301-abc",
        job="health-check",
        started_at=T0,
        finished_at=T0 + timedelta(minutes=3, seconds=7),
        results=tuple(results),
        arm=ArmCounters(requests={"reads": 120, "writes": 44}, throttled=3, throttle_wait_s=4.5),
        ended=ended,
        ended_detail="gate health failed after batch 3" if ended != "completed" else None,
        rollout=sample_rollout(results),
        expect=expect or Expectations(),
    )


def sample_document(
    n_ok: int = 36, *, secrets: Secrets = NO_SECRETS, expect: Expectations | None = None
) -> dict[str, Any]:
    return report_to_dict(sample_report(n_ok, expect=expect), secrets=secrets)

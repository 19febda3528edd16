"""A target's verdict under a job's expectations (fleet.model.expect)."""

from __future__ import annotations

import pytest

from fleet.model import Expectations, Status, Target, TargetKind, TargetResult, ValueCheck, Verdict

VM = Target("/subscriptions/s/rg/vm-1", "vm-1", TargetKind.VM, "s", "rg", "eastus")


def result(
    status: Status, exit_code: int | None = 0, output: str = "", **kw: object
) -> TargetResult:
    return TargetResult(VM, status, exit_code=exit_code, output=output, **kw)  # type: ignore[arg-type]


def test_default_expects_what_the_run_calls_success() -> None:
    expect = Expectations()
    assert expect.judge(result(Status.SUCCEEDED)).verdict is Verdict.PASS
    failed = expect.judge(result(Status.FAILED, exit_code=3))
    assert (failed.verdict, failed.reason) == (Verdict.FAIL, "exit code 3")


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (Status.SKIPPED, Verdict.SKIP),
        (Status.NOT_STARTED, Verdict.SKIP),
        (Status.CANCELED, Verdict.SKIP),
        (Status.TIMED_OUT, Verdict.FAIL),
        (Status.WEDGED, Verdict.FAIL),
        (Status.ERROR, Verdict.FAIL),
        (Status.ACCESS_DENIED, Verdict.FAIL),
    ],
)
def test_targets_the_script_did_not_run_on(status: Status, verdict: Verdict) -> None:
    judged = Expectations(output="OK").judge(result(status, None, reason="why not"))
    assert judged.verdict is verdict
    assert judged.reason == f"{status.value}: why not"


def test_listed_exit_codes_pass_a_failed_run() -> None:
    expect = Expectations(exit_codes=(0, 100))
    assert expect.judge(result(Status.FAILED, exit_code=100)).passed
    judged = expect.judge(result(Status.FAILED, exit_code=1))
    assert judged.reason == "exit code 1 (expected 0, 100)"
    assert expect.judge(result(Status.SUCCEEDED, exit_code=None)).passed  # Succeeded = 0


def test_output_rules() -> None:
    expect = Expectations(output=r"^status:\s+OK$", output_absent="ERROR")
    assert expect.judge(result(Status.SUCCEEDED, output="boot\nstatus:  OK\n")).passed
    judged = expect.judge(result(Status.SUCCEEDED, output="status: DEGRADED\nERROR disk\n"))
    assert judged.reason == r"output does not match /^status:\s+OK$/; output matches /ERROR/"


def test_values_are_read_and_held_to_their_bounds() -> None:
    disk = ValueCheck("disk_used_pct", r"used=(\d+)%", max=90)
    load = ValueCheck("load", r"load=([\d.]+)", min=0.1)
    expect = Expectations(values=(disk, load))
    ok = expect.judge(result(Status.SUCCEEDED, output="used=42% load=0.5"))
    assert ok.passed and ok.values == (("disk_used_pct", 42.0), ("load", 0.5))
    bad = expect.judge(result(Status.SUCCEEDED, output="used=95% load=0.01"))
    assert bad.reason == "disk_used_pct = 95 > max 90; load = 0.01 < min 0.1"
    missing = expect.judge(result(Status.SUCCEEDED, output="nothing here"))
    assert missing.failed and "disk_used_pct: not found in the output" in missing.reason
    assert missing.values == (("disk_used_pct", None), ("load", None))


def test_every_failed_rule_is_named_with_the_exit_code_first() -> None:
    expect = Expectations(output="OK", values=(ValueCheck("n", r"n=(\d+)", max=1),))
    judged = expect.judge(result(Status.FAILED, exit_code=2, output="n=5"))
    assert judged.reason == "exit code 2; output does not match /OK/; n = 5 > max 1"

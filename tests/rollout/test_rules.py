"""Rollout rules (pure): error-budget accounting, health-gate verdicts, the stop/cancel state
machine."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from fleet.model import HealthGate, ScriptSource, ScriptSpec, SourceKind, Status, TargetResult
from fleet.rollout.budget import ErrorBudget, FailureKind, classify
from fleet.rollout.control import Ended, RunControl, Stage
from fleet.rollout.gates import evaluate, gate_targets
from tests.fakes import make_target

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def result(name: str, status: Status, **kw: object) -> TargetResult:
    return TargetResult(make_target(name), status, **kw)  # type: ignore[arg-type]


def test_classify_separates_platform_failures_from_failures() -> None:
    assert classify(result("a", Status.SUCCEEDED)) is FailureKind.NONE
    assert classify(result("a", Status.NOT_STARTED)) is FailureKind.NONE
    assert classify(result("a", Status.SKIPPED, reason="no script for OS")) is FailureKind.NONE
    assert classify(result("a", Status.SKIPPED, reason="not running")) is FailureKind.PLATFORM
    assert classify(result("a", Status.ACCESS_DENIED)) is FailureKind.PLATFORM
    no_agent = result("a", Status.TIMED_OUT, execution_state="TimedOut")
    assert classify(no_agent) is FailureKind.PLATFORM
    ran_too_long = dataclasses.replace(no_agent, started_at=NOW)
    assert classify(ran_too_long) is FailureKind.FAILURE
    for status in (Status.FAILED, Status.WEDGED, Status.ERROR, Status.CONFLICT):
        assert classify(result("a", status)) is FailureKind.FAILURE


def test_budget_is_exhausted_only_when_exceeded() -> None:
    budget = ErrorBudget(limit=1)
    budget.record(result("a", Status.ACCESS_DENIED))
    budget.record(result("b", Status.FAILED))
    assert (budget.failures, budget.platform, budget.exhausted) == (1, 1, False)
    budget.record(result("c", Status.FAILED))
    assert budget.exhausted and "2 failures exceeded max_errors 1" in budget.describe()
    counting = ErrorBudget(limit=1, count_platform=True)
    counting.record(result("a", Status.ACCESS_DENIED))
    counting.record(result("b", Status.FAILED))
    assert counting.exhausted
    assert not ErrorBudget(limit=None, failures=10**6).exhausted


def gate(**kw: object) -> HealthGate:
    script = ScriptSpec(ScriptSource(SourceKind.INLINE, "check"))
    return HealthGate("health", script, **kw)  # type: ignore[arg-type]


def test_gate_checks_batch_targets_whose_script_ran_or_named_sentinels() -> None:
    batch = [
        result("ok", Status.SUCCEEDED),
        result("bad", Status.FAILED, exit_code=1),
        result("denied", Status.ACCESS_DENIED),
        result("late", Status.NOT_STARTED),
    ]
    assert [t.name for t in gate_targets(gate(), batch)] == ["ok", "bad"]
    pool = [make_target("probe-1"), make_target("web-1"), make_target("Probe-2")]
    sentinel = gate(sentinels=("probe-*",))
    assert [t.name for t in gate_targets(sentinel, batch, pool)] == ["probe-1", "Probe-2"]


def test_gate_verdicts_exit_code_and_output() -> None:
    g = gate(expect_exit_code=0, expect_output=r"^status:\s+OK$")
    ok = result("a", Status.SUCCEEDED, exit_code=0, output="x\nstatus:  OK\n")
    assert evaluate(g, [ok]) == (True, "ok on 1 target")
    wrong_output = result("b", Status.SUCCEEDED, exit_code=0, output="status: DEGRADED")
    failed = result("c", Status.FAILED, exit_code=3)
    timed_out = result("d", Status.TIMED_OUT, reason="agent not ready")
    passed, reason = evaluate(g, [ok, wrong_output, failed, timed_out])
    assert not passed
    assert reason.startswith("3 of 4 checked targets failed")
    assert "b: output does not match" in reason and "c: exit code 3 (expected 0)" in reason
    assert "d: TimedOut (agent not ready)" in reason
    assert evaluate(gate(expect_exit_code=3), [failed])[0]
    assert evaluate(g, []) == (True, "no target to check")
    unknown = result("e", Status.FAILED, reason="exit code unknown: no marker", output="status: OK")
    passed, reason = evaluate(gate(), [unknown])
    assert not passed and "e: no exit code (exit code unknown: no marker)" in reason


def test_control_first_interrupt_drains_second_cancels() -> None:
    control = RunControl()
    seen: list[tuple[Stage, bool]] = []
    control.subscribe(lambda c: seen.append((c.stage, c.bounded)))
    assert control.launching_allowed
    control.interrupt("interrupted by SIGINT")
    assert (control.stage, control.bounded, control.ended) == (
        Stage.DRAINING, True, Ended.CANCELED,
    )  # fmt: skip
    assert not control.launching_allowed
    assert control.not_started_reason == "the run was canceled"
    control.interrupt()
    control.interrupt()  # a third changes nothing
    assert seen == [(Stage.DRAINING, True), (Stage.CANCELING, True)]


def test_control_cancel_running_deletes_on_the_first_stop() -> None:
    control = RunControl(cancel_running=True)
    control.stop(Ended.DEADLINE, "deadline")
    assert (control.stage, control.ended) == (Stage.CANCELING, Ended.DEADLINE)


def test_control_halt_keeps_its_reason_and_signals_escalate_from_there() -> None:
    control = RunControl()
    control.halt(Ended.ERROR_BUDGET, "3 failures exceeded max_errors 2")
    assert (control.stage, control.bounded) == (Stage.DRAINING, False)
    control.halt(Ended.GATE, "later")  # the first reason stays
    control.interrupt()  # a halt's unbounded drain becomes bounded first
    assert (control.stage, control.bounded) == (Stage.DRAINING, True)
    control.interrupt()
    assert control.stage is Stage.CANCELING
    assert (control.ended, control.detail) == (
        Ended.ERROR_BUDGET,
        "3 failures exceeded max_errors 2",
    )
    assert control.not_started_reason == "error budget exhausted"

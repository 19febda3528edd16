"""Which alerts a run raises (one per kind, on a change) and the bodies each webhook format
gets; everything a script said is redacted with the job's secrets."""

from __future__ import annotations

from datetime import UTC, datetime

from fleet.history import Comparison, RunSummary, RunVerdicts, VerdictCounts, compare, judge
from fleet.model import (
    AlertKind,
    AlertPolicy,
    BodyFormat,
    Expectations,
    Secret,
    Status,
    TargetResult,
    Webhook,
)
from fleet.secrets import Secrets
from fleet.serve.alerts import LISTED, Evaluation, draft, render, run_failure
from tests.journal import make_target

AT = datetime(2026, 1, 1, tzinfo=UTC)
HOOK = Webhook(Secret("https://hooks.example/T/abc"), env="HOOK")
ALL = AlertPolicy((HOOK,))


def run(run_id: str, outcomes: dict[int, Status], *, ended: str = "completed") -> RunVerdicts:
    summary = RunSummary(run_id, "health", AT, AT, ended, len(outcomes))
    results = [
        TargetResult(make_target(i), status, exit_code=0 if status is Status.SUCCEEDED else 1,
                     reason="leaked s3cret-value" if status is Status.ERROR else None)
        for i, status in outcomes.items()
    ]  # fmt: skip
    return judge(summary, results, Expectations())


def evaluation(comparison: Comparison, failure: str | None = None) -> Evaluation:
    counts = VerdictCounts(1, 1, 0)
    return Evaluation("health", comparison.current.run_id, AT, comparison, counts, failure)


OK, BAD = Status.SUCCEEDED, Status.FAILED


def kinds(alerts: list) -> list[AlertKind]:  # type: ignore[type-arg]
    return [a.kind for a in alerts]


def test_the_first_run_is_the_baseline_and_alerts_nothing() -> None:
    first = compare(None, run("r1", {0: OK, 1: BAD}))
    assert draft(evaluation(first), ALL, failed_before=False, secrets=Secrets()) == []


def test_one_regression_and_one_recovery_alert_per_run() -> None:
    before = run("r1", {0: OK, 1: OK, 2: BAD, 3: BAD})
    after = run("r2", {0: BAD, 1: BAD, 2: OK, 3: BAD, 4: BAD})  # 4 is new and failing
    alerts = draft(evaluation(compare(before, after)), ALL, failed_before=False, secrets=Secrets())
    assert kinds(alerts) == [AlertKind.REGRESSION, AlertKind.RECOVERY]
    regression, recovery = alerts
    names = [make_target(i).name for i in range(5)]
    assert regression.targets == (names[0], names[1], names[4])
    assert (
        regression.summary == f"health: 3 targets newly failing: {names[0]}, {names[1]}, {names[4]}"
    )
    assert recovery.targets == (names[2],) and recovery.summary.endswith(f"recovered: {names[2]}")
    body = regression.body
    assert (body["kind"], body["run_id"], body["previous_run_id"]) == ("regression", "r2", "r1")
    assert body["targets"][0] == {
        "name": names[0], "id": make_target(0).id, "change": "newly-failing",
        "verdict": "fail", "reason": "exit code 1", "before": "pass",
    }  # fmt: skip
    assert body["counts"] == {"pass": 1, "fail": 1, "skip": 0}


def test_still_failing_targets_raise_nothing() -> None:
    same = compare(run("r1", {0: BAD}), run("r2", {0: BAD}))
    assert draft(evaluation(same), ALL, failed_before=False, secrets=Secrets()) == []


def test_run_failure_alerts_on_the_change_only() -> None:
    halted = run("r2", {0: OK}, ended="halted-by-gate")
    why = run_failure(halted.run)
    assert why == "the run ended halted-by-gate"
    ev = evaluation(compare(run("r1", {0: OK}), halted), why)
    assert kinds(draft(ev, ALL, failed_before=False, secrets=Secrets())) == [AlertKind.RUN_FAILURE]
    assert draft(ev, ALL, failed_before=True, secrets=Secrets()) == []
    assert run_failure(run("r3", {0: OK}).run) is None


def test_the_policy_chooses_the_kinds_and_no_webhook_means_no_alert() -> None:
    ev = evaluation(compare(run("r1", {0: OK, 1: BAD}), run("r2", {0: BAD, 1: OK})))
    only = AlertPolicy((HOOK,), frozenset({AlertKind.RECOVERY}))
    assert kinds(draft(ev, only, failed_before=False, secrets=Secrets())) == [AlertKind.RECOVERY]
    assert draft(ev, AlertPolicy(), failed_before=False, secrets=Secrets()) == []


def test_reasons_are_redacted_and_long_lists_cut() -> None:
    many = {i: OK for i in range(LISTED + 7)}
    broken = {i: Status.ERROR for i in range(LISTED + 7)}
    ev = evaluation(compare(run("r1", many), run("r2", broken)))
    [alert] = draft(ev, ALL, failed_before=False, secrets=Secrets.of(["s3cret-value"]))
    assert len(alert.body["targets"]) == LISTED and alert.body["more"] == 7
    assert "s3cret" not in str(alert.body) and "***" in alert.body["targets"][0]["reason"]
    assert alert.summary.endswith(f"and {LISTED + 2} more")


def test_bodies_per_format() -> None:
    ev = evaluation(compare(run("r1", {0: OK}), run("r2", {0: BAD})))
    [alert] = draft(ev, ALL, failed_before=False, secrets=Secrets())
    assert render(alert.body, BodyFormat.GENERIC) is alert.body
    text = render(alert.body, BodyFormat.SLACK)["text"]
    assert text.splitlines() == [alert.summary, f"• {make_target(0).name}: exit code 1", "run r2"]
    teams = render(alert.body, BodyFormat.TEAMS)
    [attachment] = teams["attachments"]
    assert teams["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    blocks = attachment["content"]["body"]
    assert [b["text"] for b in blocks] == text.splitlines()

"""Pure: judging a run's results, comparing two runs of a job target by target, and the trend.

``compare(previous, current)`` classifies every target of either run (``Change``): a target
that did not fail before (it passed, or was skipped) and fails now is newly failing; one that
failed and now passes has recovered; failing both times is still failing; a target only in
the current run is new, one only in the previous run is gone. Targets are matched by ARM id,
case-insensitively (ARM ids are).
"""

from __future__ import annotations

from collections.abc import Iterable

from fleet.history.records import (
    Change,
    Comparison,
    RunSummary,
    RunVerdicts,
    TargetChange,
    TargetVerdict,
    TrendPoint,
)
from fleet.model import Expectations, TargetResult, Verdict


def judge(run: RunSummary, results: Iterable[TargetResult], expect: Expectations) -> RunVerdicts:
    """Each result's verdict under ``expect`` (the expectations the run's job had)."""
    return RunVerdicts(run, tuple(TargetVerdict(r, expect.judge(r)) for r in results))


def change_of(before: TargetVerdict | None, after: TargetVerdict | None) -> Change:
    if before is None:
        return Change.NEW
    if after is None:
        return Change.GONE
    failed_before = before.verdict is Verdict.FAIL
    if after.verdict is Verdict.FAIL:
        return Change.STILL_FAILING if failed_before else Change.NEWLY_FAILING
    if failed_before and after.verdict is Verdict.PASS:
        return Change.RECOVERED
    return Change.UNCHANGED


def compare(previous: RunVerdicts | None, current: RunVerdicts) -> Comparison:
    """Every target of both runs with its change, current run's order first, then gone ones."""
    before = previous.by_key() if previous is not None else {}
    after = current.by_key()
    changes = [
        TargetChange(change_of(before.get(key), now), key, now.target.name, before.get(key), now)
        for key, now in after.items()
    ]
    if previous is not None:
        changes += [
            TargetChange(Change.GONE, key, was.target.name, was, None)
            for key, was in before.items()
            if key not in after
        ]
    return Comparison(
        previous=None if previous is None else previous.run,
        current=current.run,
        changes=tuple(changes),
    )


def trend_point(verdicts: RunVerdicts) -> TrendPoint:
    run = verdicts.run
    return TrendPoint(run.run_id, run.started_at, run.ended, verdicts.counts)

"""The history of scheduled checks: per job, its runs in order; per run, per target, a verdict
(pass / fail / skip, and why: the exit code, the job's ``expect:`` rules); the comparison of two
runs of a job (newly failing, recovered, still failing, new and gone targets); the health trend
(share of passing targets per run); one target across runs. No web, no Azure.

    records   frozen records: RunSummary, TargetVerdict, RunVerdicts, VerdictCounts, Change,
              TargetChange, Comparison, TrendPoint, TargetRun
    compare   pure: judge(run, results, expect), compare(previous, current), trend_point
    reader    History(journal): jobs, runs, run, verdicts, previous, compare, changes, trend,
              target_history

Callers (``fleet serve``'s views, ``fleet runs --job``, ``fleet diff``) read through it::

    history = History(api.open_journal(state_dir, writable=False))
    latest = history.runs("health-check")[-1]
    for change in history.changes(latest.run_id).regressions: ...

Imports ``fleet.api`` (the journal's reports) and ``fleet.model``; nothing imports it but the
callers.
"""

from fleet.history.compare import compare, judge
from fleet.history.reader import History, summary_of
from fleet.history.records import (
    Change,
    Comparison,
    RunSummary,
    RunVerdicts,
    TargetChange,
    TargetRun,
    TargetVerdict,
    TrendPoint,
    VerdictCounts,
)

__all__ = [
    "Change",
    "Comparison",
    "History",
    "RunSummary",
    "RunVerdicts",
    "TargetChange",
    "TargetRun",
    "TargetVerdict",
    "TrendPoint",
    "VerdictCounts",
    "compare",
    "judge",
    "summary_of",
]

"""``History``: a job's runs and their verdicts, read from the run journal.

Runs belong to a job by name (the journal's ``job``), oldest first. A run's verdicts are its
targets' final results (a target with none yet is NotStarted: skipped) judged by the
expectations its job had when it ran (stored with the run's spec). The previous run of a run,
the baseline for its regressions, is the latest earlier run of the same job that has ended and
is not a rerun (a rerun covers only some targets).

Verdicts of ended runs never change, so they are cached; a running run is read afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from fleet.api.history import report_from_journal
from fleet.history.compare import compare, judge, trend_point
from fleet.history.records import (
    Comparison,
    RunSummary,
    RunVerdicts,
    TargetRun,
    TrendPoint,
)
from fleet.journal import Journal, RunRecord

_CACHED_RUNS = 64


def summary_of(record: RunRecord) -> RunSummary:
    recipe = record.recipe or {}
    rerun_of = recipe.get("rerun_of") if isinstance(recipe, dict) else None
    return RunSummary(
        run_id=record.run_id,
        job=record.job,
        started_at=record.started_at,
        ended_at=record.ended_at,
        ended=record.ended,
        target_count=record.target_count,
        rerun_of=rerun_of if isinstance(rerun_of, str) else None,
    )


class History:
    """Read-only views of the journal by job. Thread-safe (the journal serialises reads)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._cache: OrderedDict[str, RunVerdicts] = OrderedDict()
        self._lock = threading.Lock()

    def jobs(self) -> list[str]:
        """Every job name with at least one run, sorted."""
        return sorted({r.job for r in self.journal.runs(limit=None)})

    def runs(self, job: str, limit: int | None = None) -> list[RunSummary]:
        """The job's runs, oldest first (the last ``limit`` of them)."""
        found = [summary_of(r) for r in self.journal.runs(limit=None) if r.job == job]
        found.reverse()
        return found if limit is None else found[-limit:]

    def run(self, run_id: str) -> RunSummary:
        """One run (``UnknownRun`` if the journal has none by that id)."""
        return summary_of(self.journal.run(run_id))

    def verdicts(self, run_id: str) -> RunVerdicts:
        """Each target of the run with its verdict, in plan order."""
        with self._lock:
            cached = self._cache.get(run_id)
            if cached is not None:
                self._cache.move_to_end(run_id)
                return cached
        summary = self.run(run_id)
        report = report_from_journal(self.journal, run_id)
        judged = judge(summary, report.results, report.expect)
        if summary.finished:
            with self._lock:
                self._cache[run_id] = judged
                while len(self._cache) > _CACHED_RUNS:
                    self._cache.popitem(last=False)
        return judged

    def previous(self, run_id: str) -> RunSummary | None:
        """The baseline of ``run_id``: the job's latest earlier ended run that is no rerun."""
        current = self.run(run_id)
        earlier = [
            r
            for r in self.runs(current.job)
            if r.started_at < current.started_at and r.finished and r.rerun_of is None
        ]
        return earlier[-1] if earlier else None

    def compare(self, previous_id: str | None, current_id: str) -> Comparison:
        """Target by target from ``previous_id`` (None: no baseline) to ``current_id``."""
        before = None if previous_id is None else self.verdicts(previous_id)
        return compare(before, self.verdicts(current_id))

    def changes(self, run_id: str) -> Comparison:
        """``run_id`` against its baseline (:meth:`previous`)."""
        baseline = self.previous(run_id)
        return self.compare(None if baseline is None else baseline.run_id, run_id)

    def trend(self, job: str, limit: int | None = 50) -> list[TrendPoint]:
        """The share of passing targets in each of the job's last ``limit`` runs, oldest first."""
        return [trend_point(self.verdicts(r.run_id)) for r in self.runs(job, limit)]

    def target_history(self, job: str, target: str, limit: int | None = 50) -> list[TargetRun]:
        """``target`` (an ARM id, or a name) in each of the job's last ``limit`` runs it was
        part of, oldest first."""
        wanted = target.lower()
        found = []
        for run in self.runs(job, limit):
            for verdict in self.verdicts(run.run_id).targets:
                if verdict.key == wanted or verdict.target.name.lower() == wanted:
                    found.append(TargetRun(run, verdict))
                    break
        return found

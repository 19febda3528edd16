"""What the history hands out: frozen records of runs, per-target verdicts, the comparison of
two runs of a job, the health trend and one target across runs. No I/O here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fleet.model import Judgement, Status, Target, TargetResult, Verdict


@dataclass(frozen=True)
class RunSummary:
    """One run of a job as the history lists it. ``ended``: completed, halted-by-..., deadline,
    canceled — or ``running`` / ``crashed`` while it has no end."""

    run_id: str
    job: str
    started_at: datetime
    ended_at: datetime | None
    ended: str
    target_count: int
    rerun_of: str | None = None  # a rerun covers only some targets: never a baseline

    @property
    def finished(self) -> bool:
        return self.ended not in ("running", "crashed")

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class TargetVerdict:
    """A target's result in one run and the verdict the job's expectations give it."""

    result: TargetResult
    judgement: Judgement

    @property
    def target(self) -> Target:
        return self.result.target

    @property
    def key(self) -> str:
        """The target's identity across runs: its ARM id, lower-cased."""
        return self.result.target.id.lower()

    @property
    def verdict(self) -> Verdict:
        return self.judgement.verdict

    @property
    def status(self) -> Status:
        return self.result.status


@dataclass(frozen=True)
class VerdictCounts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    @classmethod
    def of(cls, verdicts: tuple[TargetVerdict, ...]) -> VerdictCounts:
        counts = Counter(v.verdict for v in verdicts)
        return cls(counts[Verdict.PASS], counts[Verdict.FAIL], counts[Verdict.SKIP])

    @property
    def judged(self) -> int:
        return self.passed + self.failed

    @property
    def share_passing(self) -> float | None:
        """Passing targets over judged ones (skipped ones are not judged); None if none."""
        return self.passed / self.judged if self.judged else None


@dataclass(frozen=True)
class RunVerdicts:
    """A run and each of its targets' verdicts, in plan order."""

    run: RunSummary
    targets: tuple[TargetVerdict, ...]

    @property
    def counts(self) -> VerdictCounts:
        return VerdictCounts.of(self.targets)

    def by_key(self) -> dict[str, TargetVerdict]:
        return {v.key: v for v in self.targets}


class Change(StrEnum):
    """How a target went from one run of a job to the next."""

    NEWLY_FAILING = "newly-failing"  # did not fail before (passed or was skipped), fails now
    RECOVERED = "recovered"  # failed before, passes now
    STILL_FAILING = "still-failing"
    NEW = "new"  # not in the previous run
    GONE = "gone"  # in the previous run, not in this one
    UNCHANGED = "unchanged"  # anything else (passing both times, skipped, ...)


@dataclass(frozen=True)
class TargetChange:
    change: Change
    key: str  # lower-cased ARM id
    name: str
    before: TargetVerdict | None
    after: TargetVerdict | None


@dataclass(frozen=True)
class Comparison:
    """``compare(previous, current)``: every target of either run, by change."""

    previous: RunSummary | None
    current: RunSummary
    changes: tuple[TargetChange, ...]

    def of(self, change: Change) -> tuple[TargetChange, ...]:
        return tuple(c for c in self.changes if c.change is change)

    @property
    def newly_failing(self) -> tuple[TargetChange, ...]:
        return self.of(Change.NEWLY_FAILING)

    @property
    def recovered(self) -> tuple[TargetChange, ...]:
        return self.of(Change.RECOVERED)

    @property
    def still_failing(self) -> tuple[TargetChange, ...]:
        return self.of(Change.STILL_FAILING)

    @property
    def new(self) -> tuple[TargetChange, ...]:
        return self.of(Change.NEW)

    @property
    def gone(self) -> tuple[TargetChange, ...]:
        return self.of(Change.GONE)

    @property
    def regressions(self) -> tuple[TargetChange, ...]:
        """Targets failing now that did not fail in the previous run (new failing ones too);
        nothing when there is no previous run to compare with."""
        if self.previous is None:
            return ()
        new_failing = tuple(c for c in self.new if c.after is not None and c.after.judgement.failed)
        return self.newly_failing + new_failing


@dataclass(frozen=True)
class TrendPoint:
    """The share of passing targets in one run (``share_passing`` None: nothing judged)."""

    run_id: str
    started_at: datetime
    ended: str
    counts: VerdictCounts

    @property
    def share_passing(self) -> float | None:
        return self.counts.share_passing


@dataclass(frozen=True)
class TargetRun:
    """One target in one run of a job (``target_history``)."""

    run: RunSummary
    verdict: TargetVerdict

"""The history read from a real journal: runs per job, verdicts under the expectations each run
recorded, the baseline of a run, comparisons, the trend and one target across runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from fleet.history import Change, History
from fleet.journal import Journal
from fleet.model import Expectations, JobSpec, Status, Target, TargetResult, ValueCheck, Verdict
from tests.journal import FakeClock, make_spec, make_target

DISK = Expectations(values=(ValueCheck("disk", r"used=(\d+)%", max=90),))


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "state", now=FakeClock()) as j:
        yield j


def record_run(
    journal: Journal,
    run_id: str,
    outcomes: Sequence[tuple[Target, Status, str]],
    *,
    spec: JobSpec | None = None,
    end: bool = True,
) -> None:
    spec = spec or dataclasses.replace(make_spec("health"), expect=DISK)
    writer = journal.begin_run(run_id, spec, [t for t, _, _ in outcomes])
    with writer:
        for target, status, output in outcomes:
            code = 0 if status is Status.SUCCEEDED else 1
            writer.final(TargetResult(target, status, exit_code=code, output=output))
        if end:
            writer.end("completed", {"total": len(outcomes)})


T = [make_target(i) for i in range(5)]


def test_runs_in_order_and_verdicts_under_the_recorded_expectations(journal: Journal) -> None:
    record_run(
        journal, "r1", [(T[0], Status.SUCCEEDED, "used=40%"), (T[1], Status.SUCCEEDED, "used=95%")]
    )
    record_run(journal, "other", [(T[0], Status.SUCCEEDED, "")], spec=make_spec("patch"))
    record_run(journal, "r2", [(T[0], Status.FAILED, "used=40%"), (T[1], Status.SKIPPED, "")])
    history = History(journal)
    assert history.jobs() == ["health", "patch"]
    assert [r.run_id for r in history.runs("health")] == ["r1", "r2"]
    verdicts = history.verdicts("r1")
    assert [v.verdict for v in verdicts.targets] == [Verdict.PASS, Verdict.FAIL]
    assert verdicts.targets[1].judgement.reason == "disk = 95 > max 90"
    assert verdicts.targets[0].judgement.values == (("disk", 40.0),)
    counts = history.verdicts("r2").counts
    assert (counts.passed, counts.failed, counts.skipped) == (0, 1, 1)


def test_changes_against_the_previous_finished_run(journal: Journal) -> None:
    record_run(journal, "r1", [
        (T[0], Status.SUCCEEDED, "used=1%"),   # passes, then fails: newly failing
        (T[1], Status.SUCCEEDED, "used=99%"),  # fails, then passes: recovered
        (T[2], Status.FAILED, ""),             # fails both times
        (T[3], Status.SUCCEEDED, "used=1%"),   # gone in r2
    ])  # fmt: skip
    record_run(journal, "r2", [
        (T[0], Status.SUCCEEDED, "used=91%"),
        (T[1], Status.SUCCEEDED, "used=10%"),
        (T[2], Status.FAILED, ""),
        (T[4], Status.FAILED, ""),             # new, failing
    ])  # fmt: skip
    record_run(journal, "r3", [(T[0], Status.SUCCEEDED, "used=1%")], end=False)
    history = History(journal)
    assert history.previous("r2") is not None and history.previous("r2").run_id == "r1"  # type: ignore[union-attr]
    assert history.previous("r1") is None
    comparison = history.changes("r2")
    by_change = {c.name: c.change for c in comparison.changes}
    assert by_change == {
        T[0].name: Change.NEWLY_FAILING,
        T[1].name: Change.RECOVERED,
        T[2].name: Change.STILL_FAILING,
        T[3].name: Change.GONE,
        T[4].name: Change.NEW,
    }
    assert [c.name for c in comparison.regressions] == [T[0].name, T[4].name]
    assert history.changes("r1").regressions == ()  # the first run is the baseline


def test_a_running_run_is_no_baseline_and_is_read_afresh(journal: Journal) -> None:
    record_run(journal, "r1", [(T[0], Status.SUCCEEDED, "used=1%")])
    spec = dataclasses.replace(make_spec("health"), expect=DISK)
    with journal.begin_run("r2", spec, [T[0], T[1]]) as writer:
        history = History(journal)
        before = history.verdicts("r2")
        assert [v.status for v in before.targets] == [Status.NOT_STARTED, Status.NOT_STARTED]
        writer.final(TargetResult(T[0], Status.SUCCEEDED, exit_code=0, output="used=99%"))
        assert history.verdicts("r2").targets[0].verdict is Verdict.FAIL
        record = history.run("r2")
        assert not record.finished
    record_run(journal, "r3", [(T[0], Status.SUCCEEDED, "used=1%")])
    baseline = history.previous("r3")
    assert baseline is not None and baseline.run_id == "r1"


def test_trend_and_target_history(journal: Journal) -> None:
    record_run(
        journal, "r1", [(T[0], Status.SUCCEEDED, "used=1%"), (T[1], Status.SUCCEEDED, "used=1%")]
    )
    record_run(journal, "r2", [(T[0], Status.SUCCEEDED, "used=95%"), (T[1], Status.SKIPPED, "")])
    record_run(journal, "r3", [(T[1], Status.SUCCEEDED, "used=2%")])
    history = History(journal)
    trend = history.trend("health")
    assert [p.share_passing for p in trend] == [1.0, 0.0, 1.0]
    by_name = history.target_history("health", T[0].name)
    by_id = history.target_history("health", T[0].id.upper())
    assert [(t.run.run_id, t.verdict.verdict) for t in by_name] == [
        ("r1", Verdict.PASS), ("r2", Verdict.FAIL),
    ]  # fmt: skip
    assert by_id == by_name
    assert history.target_history("health", T[0].name, limit=1) == []

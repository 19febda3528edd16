"""A job's script run times read back from the journal, and the forecast learned from them
(``fleet.api.forecast_for``): Azure's startTime→endTime of every script that ran to an end, in
the job's latest runs in its mode — those with the current script when there are any."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fleet.api.forecast import forecast_for
from fleet.journal import Journal
from fleet.model import JobSpec, Mode, Status, Target, TargetResult
from tests.journal import EPOCH, FakeClock, make_spec, make_targets


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "state", now=FakeClock()) as j:
        yield j


def result(target: Target, seconds: float | None, state: str = "Succeeded") -> TargetResult:
    started = EPOCH + timedelta(hours=1)
    ended = None if seconds is None else started + timedelta(seconds=seconds)
    status = Status.SUCCEEDED if state == "Succeeded" else Status.FAILED
    return TargetResult(
        target, status, execution_state=state, started_at=started, ended_at=ended, exit_code=0
    )


def record_run(journal: Journal, run_id: str, spec: JobSpec, results: list[TargetResult]) -> None:
    with journal.begin_run(run_id, spec, [r.target for r in results]) as writer:
        for r in results:
            writer.final(r)
        writer.end("completed", {})


def test_run_times_per_target_newest_run_first(journal: Journal) -> None:
    spec = make_spec()
    a, b, c = make_targets(3)
    record_run(journal, "r1", spec, [result(a, 60.0), result(b, 12.5)])
    record_run(journal, "r2", spec, [result(a, 62.0), result(b, None), result(c, 5.0, "Canceled")])
    times = journal.script_times(spec.name)
    # r2 first (0 runs ago); b's r2 result has no end, c's was canceled: neither is timed
    assert sorted((ago, t.rsplit("/", 1)[-1], round(s, 3)) for ago, t, s in times) == [
        (0, "vm-00000", 62.0), (1, "vm-00000", 60.0), (1, "vm-00001", 12.5),
    ]  # fmt: skip
    assert journal.script_times("another-job") == []
    assert [ago for ago, *_ in journal.script_times(spec.name, exclude="r2")] == [0, 0]


def test_runs_of_the_current_script_are_preferred(journal: Journal) -> None:
    old, new = make_spec(script="sleep 60"), make_spec(script="sleep 5")
    (a,) = make_targets(1)
    record_run(journal, "r1", old, [result(a, 60.0)])
    record_run(journal, "r2", new, [result(a, 5.0)])
    record_run(journal, "r3", old, [result(a, 61.0)])
    forecast = forecast_for(journal, new)
    assert forecast is not None and forecast.expected_s(a.id) == pytest.approx(5.0, abs=1e-3)
    brand_new = make_spec(script="sleep 30")  # no run with this script: the job's latest runs
    forecast = forecast_for(journal, brand_new)
    assert forecast is not None and forecast.runs == 3


def test_a_job_that_never_ran_has_no_forecast(journal: Journal) -> None:
    assert forecast_for(journal, make_spec(name="first-time")) is None


def test_only_runs_in_the_jobs_mode_are_learned_from(journal: Journal) -> None:
    """A managed run's times are the script's (its instance view), an action run's its
    operation's (from the POST, at least ~20 s): neither says how long the other mode takes."""
    managed = make_spec()
    action = dataclasses.replace(managed, mode=Mode.ACTION)
    (a,) = make_targets(1)
    record_run(journal, "r1", managed, [result(a, 5.0)])
    record_run(journal, "r2", action, [result(a, 25.0)])
    by_managed, by_action = forecast_for(journal, managed), forecast_for(journal, action)
    assert by_managed is not None and by_managed.runs == 1
    assert by_managed.expected_s(a.id) == pytest.approx(5.0, abs=1e-3)
    assert by_action is not None and by_action.runs == 1
    assert by_action.expected_s(a.id) == pytest.approx(25.0, abs=1e-3)
    other = make_spec(name="managed-only")
    record_run(journal, "r3", other, [result(a, 5.0)])
    assert forecast_for(journal, dataclasses.replace(other, mode=Mode.ACTION)) is None

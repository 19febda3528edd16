"""A job's history in its plan: the first run of a new job is planned exactly as before (no
forecast, blind order, no seeded reads); the next run, prepared with the same journal, keeps
every batch (members, canary, sizes) and launches each longest-expected first, from the run
times the first run recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet import api
from fleet.engine.runner import EngineSettings
from fleet.journal import Journal
from fleet.model import (
    Amount,
    JobSpec,
    Order,
    RolloutPolicy,
    ScriptSource,
    ScriptSpec,
    Selector,
    SourceKind,
    Status,
)
from fleet.ports import Backend
from tests.fakes import Behaviour, FakeArm, make_target

pytestmark = pytest.mark.anyio

# Engine seconds (time scale 100: polls 100x faster than Azure's), durations all different.
DURATIONS = {f"vm-{i:02}": 0.02 + 0.013 * ((i * 7) % 23) for i in range(23)}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # real time: the journal writes from worker threads


def spec() -> JobSpec:
    policy = RolloutPolicy(batches=(Amount(count=1), Amount(count=8)), order=Order.NAME)
    script = ScriptSpec(ScriptSource(SourceKind.INLINE, "true"), timeout_s=600)
    return JobSpec("history", Selector(), script, rollout=policy)


def backend() -> Backend:
    arm = FakeArm()
    for name, duration in DURATIONS.items():
        arm.add(make_target(name), Behaviour(pickup=0.01, duration=duration))
    return Backend(arm, arm, time_scale=100.0)


async def test_first_run_as_before_then_longest_first_inside_the_same_batches(
    tmp_path: Path,
) -> None:
    job, fleet_backend = spec(), backend()
    settings = EngineSettings(time_scale=100.0)
    with Journal.open(tmp_path / "state") as journal:
        first = await api.prepare(job, fleet_backend, history=journal)
        blind = await api.prepare(job, fleet_backend)
        assert first.forecast is None  # a new job: nothing to learn from
        assert first.rollout == blind.rollout
        report = await api.run_async(first, fleet_backend, journal=journal, settings=settings)
        assert all(r.status is Status.SUCCEEDED for r in report.results)

        second = await api.prepare(job, fleet_backend, history=journal)
    assert second.forecast is not None and second.forecast.runs == 1
    assert len(second.forecast.per_target) == len(DURATIONS)
    for before, after in zip(first.rollout.batches, second.rollout.batches, strict=True):
        assert (before.index, before.group) == (after.index, after.group)
        assert {t.name for t in after.targets} == {t.name for t in before.targets}
        ordered = sorted(before.targets, key=lambda t: -DURATIONS[t.name])
        assert [t.name for t in after.targets] == [t.name for t in ordered]
    assert second.rollout.batches[0].targets == first.rollout.batches[0].targets  # the canary

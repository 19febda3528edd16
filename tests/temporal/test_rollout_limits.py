"""The workflow's rollout keeps the local engine's limits while it batches activities: never more
than ``max_concurrency`` targets in flight, an error budget overrun by at most the targets in
flight, and launch chunks of one subscription, at most ``LAUNCH_CHUNK`` targets each and at
most ``launches_in_flight`` of them per subscription at once (against Azure: 4, so a stop holds
back everything after 32 PUTs per subscription). In-memory fleet, virtual time, no Temporal."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime

import pytest

from fleet.api import Backend, prepare
from fleet.model import Amount, Status
from fleet.temporal import names
from fleet.temporal.activities import RunActivities
from fleet.temporal.codec import Json
from fleet.temporal.rollout import Rollout
from fleet.temporal.work import ActivityWork
from tests.engine.test_rollout_runner import RecordingArm, job
from tests.fakes import VIRTUAL_TIME, Behaviour, make_target

pytestmark = pytest.mark.anyio
SUBS = ("11111111-0000-4000-8000-000000000001", "22222222-0000-4000-8000-000000000002")


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


def two_subscriptions(count: int, exit_code: int = 0) -> RecordingArm:
    arm = RecordingArm()
    for i in range(count):
        sub = SUBS[i % 2]
        base = make_target(f"vm-{i:03}")
        target = dataclasses.replace(
            base, subscription=sub, id=base.id.replace(base.subscription, sub)
        )
        arm.add(target, Behaviour(duration=5 + (i * 7) % 13, exit_code=exit_code * (i % 2)))
    return arm


class Recorder:
    """The activities' code behind a ``Call`` that records how launches were batched."""

    def __init__(self, activities: RunActivities) -> None:
        self.activities = activities
        self.chunks: list[list[str]] = []  # subscriptions of each launch chunk's targets
        self.launching: Counter[str] = Counter()
        self.most_launching = 0

    async def call(self, name: str, queue: str, payload: Json, limit_s: float) -> Json:
        if name != names.LAUNCH:
            method = {
                names.WATCH: self.activities.watch_targets,
                names.INTERRUPT: self.activities.interrupt_targets,
                names.TIDY: self.activities.tidy_targets,
            }[name]
            return await method(payload)
        subs = [t["subscription"] for t in payload["targets"]]
        assert queue == names.writes_queue(subs[0])
        self.chunks.append(subs)
        self.launching[subs[0]] += 1
        self.most_launching = max(self.most_launching, self.launching[subs[0]])
        try:
            return await self.activities.launch_targets(payload)
        finally:
            self.launching[subs[0]] -= 1


async def rolled_out(arm: RecordingArm, **spec: object) -> tuple[Recorder, list[Status]]:
    the_job = job(**spec)  # type: ignore[arg-type]
    backend = Backend(arm, arm)
    plan = await prepare(the_job, backend, run_id="run-1")
    recorder = Recorder(RunActivities(backend, job_spec=lambda _job: the_job))
    work = ActivityWork(recorder.call, {"name": the_job.name}, plan.run_id)
    report = await Rollout(plan, work, now=lambda: datetime.now(UTC)).run()
    return recorder, [r.status for r in report.results]


@pytest.mark.parametrize("concurrency", [1, 5, 13])
async def test_in_flight_targets_never_exceed_max_concurrency(concurrency: int) -> None:
    arm = two_subscriptions(60)
    recorder, statuses = await rolled_out(arm, concurrency=concurrency)
    assert statuses == [Status.SUCCEEDED] * 60
    assert arm.max_in_flight <= concurrency
    assert all(len(set(subs)) == 1 and len(subs) <= names.LAUNCH_CHUNK for subs in recorder.chunks)
    assert all(len(p) == 1 for p in arm.puts.values()) and len(arm.puts) == 60


async def test_launch_chunks_per_subscription_are_bounded_without_a_concurrency_limit() -> None:
    arm = two_subscriptions(200)
    recorder, statuses = await rolled_out(arm)
    assert statuses.count(Status.SUCCEEDED) == 200
    assert recorder.most_launching <= names.launches_in_flight(1.0) == 4
    assert Counter(len(c) for c in recorder.chunks)[names.LAUNCH_CHUNK] >= 20  # full chunks
    assert set(Counter(s for c in recorder.chunks for s in c).values()) == {100}


@pytest.mark.parametrize("concurrency", [2, 4, 7])
async def test_error_budget_overrun_by_at_most_the_targets_in_flight(concurrency: int) -> None:
    arm = two_subscriptions(40, exit_code=1)  # every other target fails
    _recorder, statuses = await rolled_out(
        arm, concurrency=concurrency, max_errors=Amount(percent=10)
    )
    failed = statuses.count(Status.FAILED)
    launched = sum(1 for p in arm.puts.values() if p)
    assert 4 + 1 <= failed <= 4 + concurrency  # 10% of 40 = 4, plus what was in flight
    assert launched == failed + statuses.count(Status.SUCCEEDED)
    assert statuses.count(Status.NOT_STARTED) == 40 - launched > 0

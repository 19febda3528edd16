"""fleet.azure.limiter and fleet.azure.bucket_set: waiting in line for a token (fake time: waits
advance a clock, nothing sleeps), and which bucket a request, a header count or a 429 is about."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.azure.bucket_model import BucketLimits
from fleet.azure.bucket_set import BucketSet
from fleet.azure.headers import RateLimitInfo, ThrottleError
from fleet.azure.limiter import Bucket
from fleet.azure.limits import ThrottleLimits
from fleet.azure.request_class import RequestClass

pytestmark = pytest.mark.anyio

SUB = "sub-1"
VM = "/subscriptions/sub-1/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"


class FakeTime:
    """A clock whose sleep advances it: pauses are waited out without real time passing."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def _bucket(fake: FakeTime, capacity: float = 5, rate: float = 10.0) -> Bucket:
    return Bucket(BucketLimits(capacity, rate), name="b", clock=fake, sleep=fake.sleep)


async def test_one_probe_then_the_burst_once_a_count_came_back() -> None:
    fake = FakeTime()
    bucket = _bucket(fake)
    assert await bucket.acquire() == 0
    admitted: list[float] = []

    async def second() -> None:
        await bucket.acquire()
        admitted.append(fake.now)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(second())
        for _ in range(5):
            await asyncio.sleep(0)
        assert admitted == []  # the state is unknown: one request in flight only
        bucket.answered(200)
    assert admitted == [1000.0]  # woken by the answer, no time passed


async def test_paced_at_the_rate_once_the_burst_is_spent() -> None:
    fake = FakeTime()
    bucket = _bucket(fake, capacity=3, rate=10.0)
    await bucket.acquire()
    bucket.answered(3)
    stamps = []
    for _ in range(6):
        await bucket.acquire()
        stamps.append(round(fake.now - 1000.0, 6))
        bucket.answered(None)
    assert stamps == [0.0, 0.0, 0.0, 0.1, 0.2, 0.3]


async def test_first_come_first_served() -> None:
    fake = FakeTime()
    bucket = _bucket(fake, capacity=1, rate=10.0)
    await bucket.acquire()
    bucket.answered(1)
    await bucket.acquire()  # the burst is spent: the next ones wait for the refill
    order: list[int] = []

    async def one(i: int) -> None:
        await bucket.acquire()
        order.append(i)

    async with asyncio.TaskGroup() as tg:
        for i in range(5):
            tg.create_task(one(i))
            await asyncio.sleep(0)
    assert order == [0, 1, 2, 3, 4]
    assert fake.now == pytest.approx(1000.5)


async def test_pause_blocks_until_it_ends() -> None:
    fake = FakeTime()
    bucket = Bucket(BucketLimits(100, 1000), clock=fake, sleep=fake.sleep)
    bucket.pause(5)
    bucket.pause(2)  # a shorter pause never shortens a longer one
    assert bucket.paused_for() == 5
    assert await bucket.acquire() == 5
    assert fake.now == 1005


async def test_a_waiter_that_is_cancelled_leaves_the_line() -> None:
    fake = FakeTime()
    bucket = _bucket(fake)
    await bucket.acquire()  # the probe: the next ones wait for its answer

    async def waiter() -> None:
        await bucket.acquire()

    async with asyncio.TaskGroup() as tg:
        first = tg.create_task(waiter())
        second = tg.create_task(waiter())
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
        bucket.answered(10)
    assert second.done() and first.cancelled()
    assert bucket.reading().in_flight == 1  # the probe was answered: only the second holds one
    bucket.untake()
    assert bucket.reading().in_flight == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    capacity=st.integers(1, 6),
    rate=st.sampled_from([5.0, 50.0]),
    gaps=st.lists(st.sampled_from([0.0, 0.0, 0.01, 0.2]), min_size=1, max_size=30),
    counts=st.lists(st.integers(0, 6), max_size=4),
)
def test_never_admits_more_than_capacity_plus_rate_times_t(
    capacity: int, rate: float, gaps: list[float], counts: list[int]
) -> None:
    """The first answer says the bucket is full; later counts only lower it. At most the burst
    (plus the probe sent before the count came) and the rate."""
    stamps = asyncio.run(_admissions(capacity, rate, gaps, counts))
    for i, first in enumerate(stamps):
        for j in range(i, len(stamps)):
            admitted = j - i + 1
            assert admitted <= capacity + 1 + rate * (stamps[j] - first) + 1e-6


async def _admissions(
    capacity: int, rate: float, gaps: list[float], counts: list[int]
) -> list[float]:
    """Admission times in fake time; answers carry counts now and then."""
    fake = FakeTime()
    bucket = _bucket(fake, capacity=capacity, rate=rate)
    stamps: list[float] = []

    async def one(n: int) -> None:
        await bucket.acquire()
        stamps.append(fake.now)
        if n == 0:
            bucket.answered(10**6)
        else:
            bucket.answered(counts[n % len(counts)] if counts and n % 3 == 0 else None)

    async with asyncio.TaskGroup() as tg:
        for n, gap in enumerate(gaps):
            tg.create_task(one(n))
            if gap:
                await fake.sleep(gap)
    return sorted(stamps)


# --- BucketSet ----------------------------------------------------------------------------


def _rc(
    policy: str | None = "UpdateVM", kind: str = "writes", resource: str | None = VM
) -> RequestClass:
    return RequestClass(SUB, kind, policy, resource)  # type: ignore[arg-type]


def _learnt(buckets: BucketSet, request_class: RequestClass, region: str | None) -> list[Bucket]:
    """The request's buckets, each past its probe with a full count."""
    found = buckets.buckets_for(request_class, region)
    for bucket in found:
        bucket.model.take(0.0)
        bucket.answered(10**6)
    return found


async def test_buckets_for_most_specific_first_and_lazily_shared() -> None:
    buckets = BucketSet(ThrottleLimits.published())
    found = buckets.buckets_for(_rc(), "eastus")
    assert [b.name for b in found] == [
        f"resource:{VM}:UpdateVM",
        "compute:sub-1:eastus:UpdateVM",
        "arm:sub-1:writes",
    ]
    again = buckets.buckets_for(_rc(), "EastUS")
    assert all(a is b for a, b in zip(found, again, strict=True))
    unknown_region = buckets.buckets_for(_rc(), None)
    assert unknown_region[1].name == "compute:sub-1:*:UpdateVM"
    assert sorted(b.name for b in buckets) == sorted(
        {b.name for b in found} | {"compute:sub-1:*:UpdateVM"}
    )


async def test_buckets_for_plain_arm_graph_and_unlisted_requests() -> None:
    buckets = BucketSet(ThrottleLimits.published())
    assert [b.name for b in buckets.buckets_for(RequestClass(SUB, "reads"), None)] == [
        "arm:sub-1:reads"
    ]
    graph = RequestClass(None, None, graph=True)
    assert [b.name for b in buckets.buckets_for(graph, None)] == ["graph"]
    assert buckets.buckets_for(RequestClass(None, None), None) == []
    high = buckets.buckets_for(_rc("HighCostGetVM", "reads", None), "eastus")
    assert [b.name for b in high] == ["compute:sub-1:eastus:HighCostGetVM", "arm:sub-1:reads"]
    assert BucketSet(ThrottleLimits.unlimited()).buckets_for(_rc(), "eastus") == []


async def test_counts_map_onto_the_right_buckets_current_dialect() -> None:
    buckets = BucketSet(ThrottleLimits.published(safety=1.0))
    res, sub, arm = _learnt(buckets, _rc(), "eastus")
    info = RateLimitInfo(
        arm={"writes": 150, "global-writes": 40, "reads": 1},
        compute=(
            ("UpdateVM.Resource", 6),
            ("UpdateVM.Subscription", 700),
            ("UpdateVMSSVMs.Resource", 0),
        ),
    )
    assert buckets.counts(_rc(), "eastus", info) == {arm.name: 40, res.name: 6, sub.name: 700}
    for bucket in (res, sub, arm):
        bucket.model.take(0.0)
    buckets.settle(_rc(), "eastus", info, [res, sub, arm], charged=True)
    # the lower of principal and global, less the cushion kept back (fleet.azure.limits)
    assert arm.available() == pytest.approx(40 - 10, abs=0.5)
    assert res.available() == pytest.approx(6 - 0.6, abs=0.05)  # less 5% of 12 kept back
    assert sub.available() == pytest.approx(700 - 75, abs=1)


async def test_counts_windowed_dialect_and_none() -> None:
    """Per-window names: the subscription's count is the one above the VM's capacity; the
    30-minute window is ignored. No header: no count, the model alone."""
    buckets = BucketSet(ThrottleLimits.published(safety=1.0))
    res, sub, _ = _learnt(buckets, _rc(), "eastus")
    windowed = RateLimitInfo(
        compute=(("PutVM3Min", 11), ("PutVM30Min", 119), ("PutVM3Min", 1400), ("PutVM30Min", 9))
    )
    assert buckets.counts(_rc(), "eastus", windowed) == {res.name: 11, sub.name: 1400}
    assert buckets.counts(_rc(), "eastus", RateLimitInfo()) == {}


async def test_graph_quota_count_and_pause() -> None:
    fake = FakeTime()
    limits = ThrottleLimits(graph=BucketLimits(10, 1000))
    buckets = BucketSet(limits, clock=fake, sleep=fake.sleep)
    graph = RequestClass(None, None, graph=True)
    (bucket,) = buckets.buckets_for(graph, None)
    await bucket.acquire()
    info = RateLimitInfo(graph_remaining=0, graph_resets_after_s=3.0)
    buckets.settle(graph, None, info, [bucket], charged=True)
    assert bucket.paused_for() == 3.0
    assert await bucket.acquire() == 3.0


def _error(code: str, target: str | None = None, allowed: int | None = None) -> ThrottleError:
    return ThrottleError(code, target, allowed)


async def test_culprits_of_a_429() -> None:
    buckets = BucketSet(ThrottleLimits.published())
    res, sub, arm = buckets.buckets_for(_rc(), "eastus")
    every = [res, sub, arm]
    culprits = buckets.culprits
    empty = RateLimitInfo()
    arm_429 = _error("SubscriptionRequestsThrottled")
    assert culprits(_rc(), "eastus", arm_429, empty, every) == [arm]
    locked = _error("RetryableErrorDueToAnotherOperation")  # not throttling (Network RP)
    assert culprits(_rc(), "eastus", locked, empty, every) == []
    named = _error("OperationNotAllowed", "UpdateVM.Resource")
    assert culprits(_rc(), "eastus", named, empty, every) == [res]
    by_size = _error("OperationNotAllowed", "PutVM3Min", allowed=1500)
    assert culprits(_rc(), "eastus", by_size, empty, every) == [sub]
    by_count = RateLimitInfo(compute=(("PutVM3Min", 0), ("PutVM3Min", 1400)))
    windowed = _error("OperationNotAllowed", "PutVM3Min")
    assert culprits(_rc(), "eastus", windowed, by_count, every) == [res]
    unknown = _error("OperationNotAllowed")
    assert culprits(_rc(), "eastus", unknown, empty, every) == [res, sub]  # both Compute scopes
    assert culprits(_rc(), "eastus", _error("Weird"), empty, every) == every


async def test_remembered_estimates_start_new_buckets_and_peers_split_them() -> None:
    fake = FakeTime()
    buckets = BucketSet(ThrottleLimits.published(), clock=fake, sleep=fake.sleep)
    buckets.remember({"arm:sub-1:writes": 12.0})
    buckets.set_peers(lambda name: 2 if name.startswith("arm:") else 1)
    fake.now += 1.0
    (arm,) = buckets.buckets_for(RequestClass(SUB, "writes"), None)
    assert arm.model.peers == 2
    assert arm.available() == pytest.approx(12 + 4.5)  # the estimate plus its refill since
    buckets.set_peers(lambda name: 1)
    assert arm.model.peers == 1
    assert math.isinf(arm.model.wait(fake.now)) is False


async def test_on_the_real_clock_a_wait_ends_by_an_answer_then_by_its_timer() -> None:
    """asyncio's own sleep: the bucket naps on a future and a timer handle (no task per nap,
    #16). The second request waits for the probe's answer (no timer), then for the refill."""
    bucket = Bucket(BucketLimits(1, 50.0))  # time.monotonic and asyncio.sleep
    await bucket.acquire()  # the one request allowed while the bucket is unknown
    second = asyncio.ensure_future(bucket.acquire())
    await asyncio.sleep(0)  # one turn of the loop: the second request's first step
    assert bucket._changed is not None and not second.done()  # napping, with no limit
    bucket.answered(None)  # the probe's answer: learning ends, the bucket refills from now
    async with asyncio.timeout(10):
        await second
    assert bucket.reading().in_flight == 1  # the probe answered, the second one sent


async def test_the_fast_path_takes_nothing_when_another_request_is_queued() -> None:
    bucket = Bucket(BucketLimits(5, 50.0))
    await bucket.acquire()
    waiting = asyncio.ensure_future(bucket.acquire())  # queued behind the unknown bucket's probe
    await asyncio.sleep(0)
    assert bucket._changed is not None
    assert not bucket.try_take()  # first come, first served: it may not jump the queue
    bucket.answered(None)
    async with asyncio.timeout(10):
        await waiting
    assert bucket.try_take()  # nobody queued and tokens left: taken at once

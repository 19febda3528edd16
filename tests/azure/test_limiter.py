"""fleet.azure.limiter: published defaults, token buckets on aiolimiter (burst, pacing, header
sync, pauses) and the bucket set's keying. Real-time tests use high rates and small capacities;
their bounds are generous so a loaded machine cannot fail them."""

from __future__ import annotations

import asyncio

import aiolimiter
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.azure.headers import RateLimitInfo
from fleet.azure.limiter import Bucket, BucketLimits, BucketSet, ThrottleLimits
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


def test_published_limits_apply_the_safety_margin() -> None:
    limits = ThrottleLimits.published()
    assert limits.arm["reads"] == BucketLimits(225.0, 22.5)
    assert limits.arm["writes"] == BucketLimits(180.0, 9.0)
    # Compute: capacity leaves one minute's refill for the unknown refill phase (module doc)
    sub = limits.compute_subscription["UpdateVM"]
    assert (sub.capacity, sub.refill_per_s, sub.sync_reserve) == pytest.approx((900, 7.5, 450))
    res = limits.compute_resource["UpdateVM"]
    assert (res.capacity, res.refill_per_s) == pytest.approx((7.2, 4 / 60 * 0.9))
    assert "HighCostGetVM" not in limits.compute_resource  # subscription-level only
    assert "HighCostGetVM" in limits.compute_subscription


def test_time_scale_speeds_refills_not_capacities() -> None:
    fast = ThrottleLimits.published(safety=1.0, time_scale=50)
    assert fast.arm["reads"] == BucketLimits(250.0, 1250.0)
    assert fast.compute_resource["LowCostGetVM"].capacity == 24
    assert fast.compute_resource["LowCostGetVM"].refill_per_s == pytest.approx(10.0)
    with pytest.raises(ValueError, match="safety"):
        ThrottleLimits.published(safety=1.5)


def test_compute_model_never_outruns_a_per_minute_bucket() -> None:
    """Worst case for the continuous model: the server refilled just before we started."""
    for policy, limits in ThrottleLimits.published().compute_resource.items():
        cap, refill = {"UpdateVM": (12, 4), "LowCostGetVM": (36, 12)}.get(policy, (None, None))
        if cap is None:
            continue
        for t in range(0, 600):
            local_max = limits.capacity + limits.refill_per_s * t
            assert local_max <= cap + refill * (t // 60)


async def test_burst_up_to_capacity_then_paced_at_rate() -> None:
    loop = asyncio.get_running_loop()
    bucket = Bucket(BucketLimits(capacity=5, refill_per_s=100))
    start = loop.time()
    stamps = []
    for _ in range(15):
        await bucket.acquire()
        stamps.append(loop.time() - start)
        bucket.release()  # answered: the first answer starts the refill
    assert stamps[4] < 0.05  # the burst is immediate
    assert stamps[14] >= 0.1 - 0.005  # 10 more at 100/s
    assert stamps[14] < 2.0


async def test_sync_lowers_availability_and_never_raises_it() -> None:
    bucket = Bucket(BucketLimits(capacity=10, refill_per_s=0.001))
    assert bucket.available() == pytest.approx(10, abs=0.01)
    bucket.sync(3)
    assert bucket.available() == pytest.approx(3, abs=0.01)
    bucket.sync(8)  # the server's higher count does not raise our estimate
    assert bucket.available() == pytest.approx(3, abs=0.01)
    bucket.sync(-2)
    assert bucket.available() == pytest.approx(0, abs=0.01)


async def test_sync_keeps_the_reserve_back() -> None:
    bucket = Bucket(BucketLimits(capacity=20, refill_per_s=0.001, sync_reserve=4))
    bucket.sync(11)
    assert bucket.available() == pytest.approx(7, abs=0.01)


async def test_after_sync_to_zero_the_next_token_waits_for_the_refill() -> None:
    loop = asyncio.get_running_loop()
    bucket = Bucket(BucketLimits(capacity=5, refill_per_s=50))
    bucket.sync(0)
    start = loop.time()
    await bucket.acquire()
    assert 0.02 - 0.005 <= loop.time() - start < 2.0


async def test_pause_blocks_until_it_ends() -> None:
    fake = FakeTime()
    bucket = Bucket(BucketLimits(100, 1000), clock=fake, sleep=fake.sleep)
    bucket.pause(5)
    bucket.pause(2)  # a shorter pause never shortens a longer one
    assert bucket.paused_for() == 5
    waited = await bucket.acquire()
    assert waited == 5
    assert fake.now == 1005
    assert await bucket.acquire() == 0  # pause over


async def test_a_pause_set_while_queued_sends_the_waiter_back() -> None:
    loop = asyncio.get_running_loop()
    bucket = Bucket(BucketLimits(capacity=1, refill_per_s=50))
    await bucket.acquire()  # empty now: the next one queues ~20 ms in aiolimiter
    bucket.release()
    start = loop.time()

    async def pause_soon() -> None:
        await asyncio.sleep(0.005)
        bucket.pause(0.1)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(pause_soon())
        await bucket.acquire()
    assert loop.time() - start >= 0.1 - 0.005


async def test_no_refill_before_the_server_first_answers() -> None:
    bucket = Bucket(BucketLimits(capacity=2, refill_per_s=1000))
    await bucket.acquire()
    await bucket.acquire()
    await asyncio.sleep(0.02)  # 20 tokens' worth of time, but no answer yet
    assert bucket.available() == pytest.approx(0, abs=1e-6)
    bucket.release()
    await asyncio.sleep(0.01)
    assert bucket.available() == pytest.approx(2, abs=1e-6)


async def test_a_queued_waiter_is_admitted_once_the_first_answer_thaws_the_bucket() -> None:
    bucket = Bucket(BucketLimits(capacity=1, refill_per_s=200))
    await bucket.acquire()
    admitted: list[bool] = []

    async def second() -> None:
        await bucket.acquire()
        admitted.append(True)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(second())
        await asyncio.sleep(0.03)
        assert admitted == []  # still frozen after 6 tokens' worth of time
        bucket.release()
    assert admitted == [True]


async def test_sync_subtracts_requests_still_in_flight() -> None:
    bucket = Bucket(BucketLimits(capacity=10, refill_per_s=0.001))
    for _ in range(3):
        await bucket.acquire()
    bucket.release()  # one answered, carrying the header; two still in flight
    bucket.sync(6)
    assert bucket.available() == pytest.approx(4, abs=0.01)


async def test_bucket_relies_on_aiolimiter_internals() -> None:
    """The pinned aiolimiter still has the ``_level``/``_leak`` our sync and refund rely on."""
    limiter = aiolimiter.AsyncLimiter(10, 1)
    await limiter.acquire()
    limiter._leak()
    assert 0 < limiter._level <= 1
    assert limiter.max_rate == 10
    assert limiter._last_check <= asyncio.get_running_loop().time()
    limiter._wake_next()  # no waiters: a no-op


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    capacity=st.integers(1, 6),
    rate=st.sampled_from([200.0, 500.0, 1000.0]),
    gaps=st.lists(st.sampled_from([0.0, 0.0, 0.001, 0.004]), min_size=1, max_size=30),
    syncs=st.lists(st.integers(0, 6), max_size=3),
)
def test_never_admits_more_than_capacity_plus_rate_times_t(
    capacity: int, rate: float, gaps: list[float], syncs: list[int]
) -> None:
    stamps = asyncio.run(_admissions(capacity, rate, gaps, syncs))
    for i, first in enumerate(stamps):
        for j in range(i, len(stamps)):
            admitted = j - i + 1
            assert admitted <= capacity + rate * (stamps[j] - first) + 1e-6


async def _admissions(
    capacity: int, rate: float, gaps: list[float], syncs: list[int]
) -> list[float]:
    """Admission times in loop time, taken in the same step the limiter admitted the request."""
    loop = asyncio.get_running_loop()
    bucket = Bucket(BucketLimits(capacity, rate))
    stamps: list[float] = []

    async def one() -> None:
        await bucket.acquire()
        stamps.append(loop.time())
        bucket.release()

    async with asyncio.TaskGroup() as tg:
        for n, gap in enumerate(gaps):
            if syncs and n % 7 == 3:
                bucket.sync(syncs[n % len(syncs)])
            tg.create_task(one())
            if gap:
                await asyncio.sleep(gap)
    return sorted(stamps)


# --- BucketSet ----------------------------------------------------------------------------


def _rc(
    policy: str | None = "UpdateVM", kind: str = "writes", resource: str | None = VM
) -> RequestClass:
    return RequestClass(SUB, kind, policy, resource)  # type: ignore[arg-type]


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


async def test_sync_maps_headers_onto_the_right_buckets() -> None:
    buckets = BucketSet(ThrottleLimits.published(safety=1.0))
    res, sub, arm = buckets.buckets_for(_rc(), "eastus")
    info = RateLimitInfo(
        arm={"writes": 150, "global-writes": 40, "reads": 1},
        compute={"UpdateVM.Resource": 6, "UpdateVM.Subscription": 700, "UpdateVMSSVMs.Resource": 0},
    )
    buckets.sync(_rc(), "eastus", info)
    assert arm.available() == pytest.approx(40, abs=0.5)  # the lower of per-principal and global
    assert res.available() == pytest.approx(6 - 4, abs=0.05)  # minus one minute's refill
    assert sub.available() == pytest.approx(700 - 500, abs=1)


async def test_sync_reads_old_style_windows_as_the_subscription_bucket() -> None:
    buckets = BucketSet(ThrottleLimits.published(safety=1.0))
    request_class = _rc("PutVM")
    res, sub, _ = buckets.buckets_for(request_class, None)
    buckets.sync(
        request_class, None, RateLimitInfo(compute={"PutVM3Min": 740, "HighCostGet3Min": 0})
    )
    assert sub.available() == pytest.approx(240, abs=1)
    assert res.available() == pytest.approx(8, abs=0.05)  # untouched


async def test_graph_quota_sync_and_pause() -> None:
    fake = FakeTime()
    limits = ThrottleLimits(graph=BucketLimits(10, 1000))
    buckets = BucketSet(limits, clock=fake, sleep=fake.sleep)
    graph = RequestClass(None, None, graph=True)
    (bucket,) = buckets.buckets_for(graph, None)
    buckets.sync(graph, None, RateLimitInfo(graph_remaining=0, graph_resets_after_s=3.0))
    assert bucket.paused_for() == 3.0
    assert await bucket.acquire() == 3.0

"""Client-side token buckets that mirror Azure's throttling limits, so fleet is never throttled.

Owns the default limits (Azure's published numbers, see azure-reference README "Throttling
limits", times a ``safety`` factor that leaves room for other clients of the same subscription)
and the buckets themselves, keyed like Azure keys its own:

* ARM: per (subscription, kind) — reads/writes/deletes; continuous refill, as ARM's is.
* Compute: per (subscription, region, policy) and per (resource, policy).
* Resource Graph: one quota for the caller.

Buckets are :class:`aiolimiter.AsyncLimiter` (a leaky bucket: ``_level`` is the used capacity,
draining at ``max_rate / time_period`` per second). We rely on a few of its internals, pinned by
``aiolimiter>=1.3,<2`` and covered by tests/azure/test_limiter.py: ``_level`` (raised by
:meth:`Bucket.sync` when the server says fewer tokens are left than we think, lowered by a
refund), ``_leak()`` (overridden to freeze the drain), ``_last_check``, ``_loop`` and
``_wake_next()`` (re-arm the waiters' timer after a change). aiolimiter keeps time with the
event loop's clock (``time.monotonic`` on asyncio), so a bucket lives on one loop.

Why the model is what it is. Azure refills a Compute bucket *once a minute*, at a phase the
client cannot see; ours refills continuously at ``refill_per_min / 60`` (times ``safety``),
which can run ahead of a discrete bucket by up to one refill. So:

1. Capacity is ``cap - refill_per_min`` (times safety): by t seconds after its creation the
   server has admitted ``cap + refill * floor(t/60) >= cap - refill + refill * t/60``, which a
   continuous bucket of that capacity and rate never exceeds.
2. A bucket starts refilling only once the server has answered a request charged to it: the
   server may create its bucket (full) as late as our first request's arrival, and latency is
   unbounded (in the emulator at 50x, 400 concurrent first requests took 1.8 s = 90 Azure-s).
3. When a header reports ``n`` tokens left, the local estimate drops to ``n - reserve -
   in_flight``: the reserve is what the local model may add before the server's next refill,
   and requests still in flight were not in the server's count. Headers only ever *lower* the
   estimate — the server's count is the truth, and a higher count may be stale.

ARM buckets refill continuously, like ours, and need no reserve. If we are wrong anyway (other
clients, a smaller quota), the 429's ``Retry-After`` says exactly when the server refills, and
:meth:`Bucket.pause` holds every request on that bucket until then.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter

from fleet.azure.headers import RateLimitInfo
from fleet.azure.request_class import RequestClass

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Azure's published numbers: ARM per subscription and principal (capacity, refill per second).
ARM_PUBLISHED: dict[str, tuple[float, float]] = {
    "reads": (250, 25.0),
    "writes": (200, 10.0),
    "deletes": (200, 10.0),
}
# Compute policies: (resource refill/min, resource cap, subscription refill/min, subscription cap).
COMPUTE_PUBLISHED: dict[str, tuple[float | None, float | None, float, float]] = {
    "PutVM": (4, 12, 500, 1500),
    "UpdateVM": (4, 12, 500, 1500),
    "DeleteVM": (4, 12, 500, 1500),
    "LowCostGetVM": (12, 36, 8000, 24000),
    "HighCostGetVM": (None, None, 300, 900),
    "GetOperation": (15, 45, 5000, 15000),
    "VMGuestPatch": (2, 6, 200, 600),
    "VMSSPut": (4, 12, 125, 375),
    "VMSSUpdate": (4, 12, 500, 1500),
    "VMSSDelete": (4, 12, 175, 525),
    "VMSSLowCostGet": (12, 36, 800, 2400),
    "VMSSHighCostGet": (10, 30, 360, 1080),
    "UpdateVMSSVMs": (4, 12, 500, 1500),
    "DeleteVMSSVMs": (4, 12, 500, 1500),
    "GetVMSSVMs": (12, 36, 2000, 6000),
}
GRAPH_PUBLISHED = (15, 5.0)  # queries per fixed window of seconds, per user


@dataclass(frozen=True)
class BucketLimits:
    capacity: float
    refill_per_s: float
    sync_reserve: float = 0.0  # tokens kept back when syncing from a header (see module doc)


def _minute_bucket(cap: float, refill_per_min: float, safety: float, scale: float) -> BucketLimits:
    return BucketLimits(
        capacity=max(1.0, (cap - refill_per_min) * safety),
        refill_per_s=refill_per_min / 60.0 * safety * scale,
        sync_reserve=refill_per_min * safety,
    )


@dataclass(frozen=True)
class ThrottleLimits:
    safety: float = 0.9
    arm: dict[str, BucketLimits] = field(default_factory=dict)
    compute_subscription: dict[str, BucketLimits] = field(default_factory=dict)
    compute_resource: dict[str, BucketLimits] = field(default_factory=dict)
    graph: BucketLimits | None = None

    @classmethod
    def published(cls, safety: float = 0.9, time_scale: float = 1.0) -> ThrottleLimits:
        """Azure's published limits times ``safety``; ``time_scale`` speeds refills up K-fold
        (for the emulator run at ``--time-scale K``; capacities are unchanged there too)."""
        if not 0 < safety <= 1 or time_scale <= 0:
            message = f"need 0 < safety <= 1 and time_scale > 0, got {safety=} {time_scale=}"
            raise ValueError(message)
        arm = {
            kind: BucketLimits(cap * safety, rate * safety * time_scale)
            for kind, (cap, rate) in ARM_PUBLISHED.items()
        }
        subs, resources = {}, {}
        for policy, (res_refill, res_cap, sub_refill, sub_cap) in COMPUTE_PUBLISHED.items():
            subs[policy] = _minute_bucket(sub_cap, sub_refill, safety, time_scale)
            if res_refill and res_cap:
                resources[policy] = _minute_bucket(res_cap, res_refill, safety, time_scale)
        # A fixed window of N queries: capacity + rate * window <= N keeps any window legal.
        queries, window = GRAPH_PUBLISHED
        graph = BucketLimits(queries * safety / 2, queries * safety / 2 / window * time_scale)
        return cls(safety, arm, subs, resources, graph)


class _Limiter(AsyncLimiter):
    """AsyncLimiter plus what it lacks: lowering availability, refunds, a frozen start."""

    frozen = True  # no refill until thawed (see Bucket.release)

    def _leak(self) -> None:
        if self.frozen:
            self._last_check = self._loop.time()
            return
        super()._leak()

    def thaw(self) -> None:
        if self.frozen:
            self._leak()  # restart the drain clock at now
            self.frozen = False
            self._wake_next()

    def available(self) -> float:
        self._leak()
        return self.max_rate - self._level

    def lower_to(self, tokens: float) -> None:
        self._leak()
        self._level = max(self._level, self.max_rate - max(0.0, tokens))
        self._wake_next()

    def refund(self, tokens: float = 1.0) -> None:
        self._leak()
        self._level = max(0.0, self._level - tokens)
        self._wake_next()


class Bucket:
    """One token bucket (starts full) that can be paused and corrected from the server's count.

    Methods must be called on the event loop the bucket is used on (aiolimiter's rule).
    """

    def __init__(
        self,
        limits: BucketLimits,
        *,
        name: str = "",
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if limits.refill_per_s <= 0:
            raise ValueError(f"bucket {name!r} needs a positive refill rate, got {limits}")
        capacity = max(1.0, limits.capacity)
        self.name = name
        self.limits = limits
        self._limiter = _Limiter(capacity, capacity / limits.refill_per_s)
        self._clock = clock
        self._sleep = sleep
        self._paused_until = float("-inf")
        self._in_flight = 0  # admitted, not yet answered: a header cannot have counted them

    def __repr__(self) -> str:
        return f"Bucket({self.name!r}, {self.limits})"

    async def acquire(self) -> float:
        """Wait for any pause and then for a token; return the seconds waited.

        The caller must :meth:`release` once the request is answered or has failed.
        """
        start = self._clock()
        while True:
            while (left := self._paused_until - self._clock()) > 0:
                await self._sleep(left)
            await self._limiter.acquire()
            if self._clock() >= self._paused_until:
                self._in_flight += 1
                return self._clock() - start
            self._limiter.refund()  # paused while we queued: give the token back, wait again

    def release(self) -> None:
        """The request holding a token was answered (or failed): it is no longer in flight.

        The first release also starts the refill (module doc: the server's bucket may not
        exist before our first request reaches it; an answer proves that it has).
        """
        self._in_flight = max(0, self._in_flight - 1)
        self._limiter.thaw()

    def sync(self, remaining: int) -> None:
        """The server says ``remaining`` tokens are left: never believe we have more.

        Requests still in flight may not be in the server's count yet, and will be charged:
        they come off too (conservative: some may already be counted).
        """
        self._limiter.thaw()
        self._limiter.lower_to(remaining - self.limits.sync_reserve - self._in_flight)

    def pause(self, seconds: float) -> None:
        """After a 429: nobody acquires until ``seconds`` from now (pauses only ever extend)."""
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    def available(self) -> float:
        return self._limiter.available()


class BucketSet:
    """Every bucket of a run, created lazily, keyed as Azure keys its limits."""

    def __init__(
        self, limits: ThrottleLimits, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[tuple[str | None, ...], Bucket] = {}

    def _get(self, key: tuple[str | None, ...], limits: BucketLimits) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            name = ":".join(k or "*" for k in key)
            bucket = Bucket(limits, name=name, clock=self._clock, sleep=self._sleep)
            self._buckets[key] = bucket
        return bucket

    def arm_bucket(self, request_class: RequestClass) -> Bucket | None:
        limits = self.limits.arm.get(request_class.arm_kind or "")
        return (
            self._get(("arm", request_class.subscription, request_class.arm_kind), limits)
            if limits
            else None
        )

    def _compute_sub(self, request_class: RequestClass, region: str | None) -> Bucket | None:
        limits = self.limits.compute_subscription.get(request_class.compute_policy or "")
        if limits is None:
            return None
        # region unknown: one bucket across regions, stricter than Azure's per-region buckets
        return self._get(
            ("compute", request_class.subscription, _region(region), request_class.compute_policy),
            limits,
        )

    def _compute_resource(self, request_class: RequestClass) -> Bucket | None:
        limits = self.limits.compute_resource.get(request_class.compute_policy or "")
        if limits is None or not request_class.resource:
            return None
        return self._get(("resource", request_class.resource, request_class.compute_policy), limits)

    def graph_bucket(self, request_class: RequestClass) -> Bucket | None:
        if not request_class.graph or self.limits.graph is None:
            return None
        return self._get(("graph",), self.limits.graph)

    def buckets_for(self, request_class: RequestClass, region: str | None) -> list[Bucket]:
        """Most specific first, so a token of the shared ARM bucket is taken just before sending."""
        region = region or request_class.region
        found = (
            self._compute_resource(request_class),
            self._compute_sub(request_class, region),
            self.arm_bucket(request_class),
            self.graph_bucket(request_class),
        )
        return [b for b in found if b is not None]

    def sync(self, request_class: RequestClass, region: str | None, info: RateLimitInfo) -> None:
        """Lower each bucket of ``request_class`` to what the response's headers say is left."""
        region = region or request_class.region
        arm = self.arm_bucket(request_class)
        if arm is not None and request_class.arm_kind:
            counts = [
                info.arm.get(k)
                for k in (request_class.arm_kind, f"global-{request_class.arm_kind}")
            ]
            known = [c for c in counts if c is not None]
            if known:
                arm.sync(min(known))
        for token, remaining in info.compute.items():
            bucket = self.compute_bucket_named(request_class, region, token)
            if bucket is not None:
                bucket.sync(remaining)
        graph = self.graph_bucket(request_class)
        if graph is not None and info.graph_remaining is not None:
            graph.sync(info.graph_remaining)
            if info.graph_remaining == 0 and info.graph_resets_after_s:
                graph.pause(info.graph_resets_after_s)

    def compute_bucket_named(
        self, request_class: RequestClass, region: str | None, token: str
    ) -> Bucket | None:
        """The bucket a Compute policy token (header part or 429 target) refers to, if ours.

        Tokens are opaque; we recognise ``<Policy>`` optionally followed by ``.Resource`` /
        ``.Subscription`` (the emulator) or a window like ``3Min`` (older Azure, read as the
        subscription bucket). Anything else belongs to a policy we do not model: ignored.
        """
        policy = request_class.compute_policy
        if not policy or not token.lower().startswith(policy.lower()):
            return None
        rest = token[len(policy) :].lower()
        if rest == ".resource":
            return self._compute_resource(request_class)
        if rest in ("", ".subscription") or rest[0].isdigit():
            return self._compute_sub(request_class, region or request_class.region)
        return None


def _region(region: str | None) -> str | None:
    return region.lower().replace(" ", "") if region else None

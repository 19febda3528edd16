"""The throttling state one ARM connection shares between all its client pipelines.

azure-core builds a pipeline per client and links its policies by setting ``policy.next``
(``AsyncPipeline.__init__`` in azure/core/pipeline/_base_async.py), so a policy instance belongs
to exactly one pipeline. What must be shared across the compute, resources and graph clients of
a connection — Azure counts one set of limits per subscription/region/resource, whichever client
sends — lives here instead: the token buckets (:class:`BucketSet`), the run's ARM counters, the
default deadline and the on-throttle hook. Each pipeline gets its own small
:class:`fleet.azure.throttle_policy.ThrottlePolicy` holding a reference to this object.

Owns: taking tokens (with a deadline), pausing the bucket a 429 names, the counters and the
wall time during which at least one request was held back. No azure-core types here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio

from fleet.azure import arm_tally
from fleet.azure.bucket_set import BucketSet
from fleet.azure.headers import RateLimitInfo, ThrottleError
from fleet.azure.limiter import Bucket, Clock, Sleep
from fleet.azure.request_class import RequestClass
from fleet.model import ArmCounters

OnThrottle = Callable[[RequestClass, float], None]


class ThrottleState:
    """Buckets, counters, default deadline and on-throttle hook of one connection."""

    def __init__(
        self,
        buckets: BucketSet,
        *,
        deadline: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        on_throttle: OnThrottle | None = None,
    ) -> None:
        self.buckets = buckets
        self.deadline = deadline  # monotonic seconds; a call's fleet_deadline= overrides it
        self.clock = clock
        self.on_throttle = on_throttle
        self._sleep = sleep
        self._tally = arm_tally.ArmTally(clock)  # the connection's; a counting() block's too

    def counters(self) -> ArmCounters:
        return self._tally.counters()

    def _tallies(self) -> list[arm_tally.ArmTally]:
        scoped = arm_tally.current()
        return [self._tally] if scoped is None else [self._tally, scoped]

    def count_response(self, request_class: RequestClass, *, throttled: bool) -> None:
        for tally in self._tallies():
            tally.response(_kind(request_class), throttled=throttled)

    def count_retry(self) -> None:
        for tally in self._tallies():
            tally.retry()

    def throttled(self, request_class: RequestClass, wait: float) -> None:
        if self.on_throttle is not None:
            self.on_throttle(request_class, wait)

    async def acquire(self, buckets: list[Bucket], deadline: float | None) -> bool:
        """Take a token from every bucket; False (nothing taken) if ``deadline`` came first."""
        ready = 0  # the buckets that admit the request at once, taken without waiting (#16)
        while ready < len(buckets) and buckets[ready].try_take():
            ready += 1
        if ready == len(buckets):
            return True
        try:
            admitted = await self._acquire_waiting(buckets[ready:], deadline)
        except BaseException:
            for bucket in buckets[:ready]:
                bucket.untake()
            raise
        if not admitted:
            for bucket in buckets[:ready]:
                bucket.untake()
        return admitted

    async def _acquire_waiting(self, buckets: list[Bucket], deadline: float | None) -> bool:
        """Take a token from every bucket, in order, waiting as each one says."""
        start = self.clock()
        longest_pause = max((b.paused_for() for b in buckets), default=0.0)
        if deadline is not None and start + longest_pause > deadline:
            return False  # waiting out the pause cannot end in time
        timeout = None if deadline is None else max(0.0, deadline - start)
        taken: list[Bucket] = []
        try:
            with self._waiting(), anyio.move_on_after(timeout) as scope:
                for bucket in buckets:
                    await bucket.acquire()
                    taken.append(bucket)
        except BaseException:  # cancelled: nothing will be sent
            for bucket in taken:
                bucket.untake()
            raise
        if scope.cancelled_caught:
            for bucket in taken:
                bucket.untake()
        return not scope.cancelled_caught

    async def sleep(self, seconds: float) -> None:
        """Wait (counted as throttle wait) without holding any bucket."""
        with self._waiting():
            await self._sleep(seconds)

    def pause(
        self,
        request_class: RequestClass,
        region: str | None,
        throttle: tuple[ThrottleError, RateLimitInfo],
        buckets: list[Bucket],
        wait: float,
    ) -> bool:
        """Pause the bucket(s) the 429 (its body and headers: ``throttle``) says refused the
        request, or all of this request's if it names none; they also slow down (AIMD).

        False if nothing was paused (a 429 that is not throttling, or an unclassified request).
        """
        error, info = throttle
        culprits = self.buckets.culprits(request_class, region, error, info, buckets)
        for bucket in culprits:
            bucket.throttled(wait)
        return bool(culprits)

    @contextmanager
    def _waiting(self) -> Iterator[None]:
        tallies = self._tallies()
        for tally in tallies:
            tally.wait_started()
        try:
            yield
        finally:
            for tally in tallies:
                tally.wait_ended()


def _kind(request_class: RequestClass) -> str:
    if request_class.graph:
        return "graph"
    return request_class.arm_kind or "other"

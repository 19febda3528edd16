"""Background load: other clients spending the same throttle budgets as the caller under test,
inside the throttle model (token consumption over time; no HTTP requests are made).

Two kinds (issue #17: ARM's write bucket is per subscription *and principal*, so a crashed fleet
process, another automation job of the same service principal or a second ``fleet run`` spend
from the caller's own bucket; Compute's per-subscription, per-region buckets are shared by every
principal):

- :class:`ArmLoad` — another client of a principal: at ``start`` it has already spent ``spent``
  tokens of the (subscription, principal, kind) bucket, then it spends one every
  ``1 / rate_per_s`` Azure-seconds. Each token also comes out of the subscription-wide bucket.
- :class:`ComputeLoad` — another principal spending a Compute policy's (subscription, region)
  bucket (e.g. Update VM) at ``rate_per_min``, after an initial ``spent``. Its ARM requests
  spend that principal's own ARM bucket, which nobody else shares, and the subscription-wide one
  (15 times larger), which we do not charge for it.

Both stop at ``end`` (``start + duration``, or when stopped through ``/_sim/background``). A load
behaves like a polite client: when a bucket is empty its attempt is counted as ``refused`` (a
429 it got) and it carries on at its pace. Deterministic: spending happens at fixed times, and
:meth:`BackgroundLoad.advance` replays every due event in time order before each throttle check.
Bounded: at most ``rate x elapsed`` events, each O(1).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fleet.sim.throttle import ArmThrottle, ComputeThrottle, TokenBucket


@dataclass
class _Load:
    name: str
    subscription: str
    spent: int
    start: float
    end: float | None
    done: int = 0  # paced events already applied
    initial_applied: bool = False
    initial_taken: int = 0
    taken: int = 0  # paced tokens taken (not counting the initial spend)
    refused: int = 0

    @property
    def interval(self) -> float:
        raise NotImplementedError

    def event_time(self, k: int) -> float:
        return self.start + k * self.interval

    def due(self, now: float) -> bool:
        if self.interval == math.inf:
            return False
        t = self.event_time(self.done + 1)
        return t <= now and (self.end is None or t <= self.end)

    def ground_truth(self, now: float) -> dict[str, Any]:
        running = self.start <= now and (self.end is None or now < self.end)
        return {
            "name": self.name,
            "subscription": self.subscription,
            "start": self.start,
            "end": self.end,
            "running": running,
            "spent_at_start": self.initial_taken,
            "taken": self.taken,
            "refused": self.refused,
        }


@dataclass
class ArmLoad(_Load):
    principal: str = ""
    kind: str = "writes"
    rate_per_s: float = 0.0

    @property
    def interval(self) -> float:
        return math.inf if self.rate_per_s <= 0 else 1.0 / self.rate_per_s

    def ground_truth(self, now: float) -> dict[str, Any]:
        row = super().ground_truth(now)
        row.update(type="arm", principal=self.principal, kind=self.kind, rate_per_s=self.rate_per_s)
        return row


@dataclass
class ComputeLoad(_Load):
    region: str = ""
    policy: str = "UpdateVM"
    rate_per_min: float = 0.0
    principal: str = "another-principal"

    @property
    def interval(self) -> float:
        return math.inf if self.rate_per_min <= 0 else 60.0 / self.rate_per_min

    def ground_truth(self, now: float) -> dict[str, Any]:
        row = super().ground_truth(now)
        row.update(
            type="compute",
            principal=self.principal,
            region=self.region,
            policy=self.policy,
            rate_per_min=self.rate_per_min,
        )
        return row


class BackgroundLoad:
    """Every background load of one emulator; the throttles call :meth:`advance`."""

    def __init__(self, arm: ArmThrottle, compute: ComputeThrottle) -> None:
        self._arm = arm
        self._compute = compute
        self.loads: list[_Load] = []
        arm.background = self
        compute.background = self

    def add(self, load: _Load) -> None:
        self.loads.append(load)

    def stop(self, now: float, name: str | None = None) -> int:
        """End the named load (every load when None) at ``now``; return how many were ended."""
        self.advance(now)
        ended = 0
        for load in self.loads:
            if (name is None or load.name == name) and (load.end is None or load.end > now):
                load.end = max(now, load.start)
                ended += 1
        return ended

    def advance(self, now: float) -> None:
        """Apply every background spending due at or before ``now``, in time order."""
        for load in self.loads:
            if not load.initial_applied and load.start <= now:
                load.initial_applied = True
                self._spend(load, load.start, load.spent, initial=True)
        for t, load in self._due(now):
            load.done += 1
            self._spend(load, t, 1, initial=False)

    def _due(self, now: float) -> Iterator[tuple[float, _Load]]:
        heap = [(ld.event_time(ld.done + 1), i) for i, ld in enumerate(self.loads) if ld.due(now)]
        heapq.heapify(heap)
        while heap:
            t, i = heapq.heappop(heap)
            load = self.loads[i]
            yield t, load
            if load.due(now):
                heapq.heappush(heap, (load.event_time(load.done + 1), i))

    def _spend(self, load: _Load, t: float, n: int, *, initial: bool) -> None:
        buckets = self._buckets(load, t)
        if initial:  # what was spent before: as much as the buckets held, at most ``n``
            n = min([n, *(b.remaining(t) for b in buckets)])
            for bucket in buckets:
                bucket.take(t, n)
            load.initial_taken = n
            return
        if all(b.can_take(t, n) for b in buckets):
            for bucket in buckets:
                bucket.take(t, n)
            load.taken += n
        else:
            load.refused += n

    def _buckets(self, load: _Load, t: float) -> tuple[TokenBucket, ...]:
        if isinstance(load, ArmLoad):
            return self._arm.buckets(t, load.subscription, load.principal, load.kind)
        assert isinstance(load, ComputeLoad)
        return (self._compute.subscription_bucket(t, load.subscription, load.region, load.policy),)

    def ground_truth(self, now: float) -> list[dict[str, Any]]:
        self.advance(now)
        return [load.ground_truth(now) for load in self.loads]

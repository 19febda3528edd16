"""The throttle model's estimate of a run (pure): how long launching every PUT takes under
Azure's published write limits, and how many ARM requests the run will cost.

Launch time per subscription is bounded by the ARM write bucket (burst ``capacity``, then
``refill`` per second) and, per subscription and region, by Compute's Update VM policy
(1,500 burst, 500 more each minute). The slowest bucket decides; subscriptions run in parallel.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from fleet.model import Target

ARM_WRITES = (200.0, 10.0)  # capacity, refill per second
COMPUTE_UPDATE_VM = (1500.0, 500.0 / 60.0)  # capacity, refill per second (per minute / 60)
READS_PER_TARGET = 1.5  # budgeted polling aims at 1-2 instance-view reads per target


def bucket_time(n: int, capacity: float, refill_per_s: float) -> float:
    """Seconds a bucket (starting full) needs to admit ``n`` requests."""
    if n <= capacity:
        return 0.0
    return (n - capacity) / refill_per_s


@dataclass(frozen=True)
class Estimate:
    launch_s: float  # time to admit every PUT (Azure seconds)
    writes: int
    reads: int
    binding: str  # which limit decides the launch time

    @property
    def launch_text(self) -> str:
        return _duration(self.launch_s)


def estimate(targets: Sequence[Target], safety: float = 0.9) -> Estimate:
    if not targets:
        return Estimate(0.0, 0, 0, "nothing to launch")
    per_sub = Counter(t.subscription.lower() for t in targets)
    per_region = Counter((t.subscription.lower(), t.location.lower()) for t in targets)
    arm = max(bucket_time(n, ARM_WRITES[0] * safety, ARM_WRITES[1] * safety)
              for n in per_sub.values())
    compute = max(
        bucket_time(n, COMPUTE_UPDATE_VM[0] * safety, COMPUTE_UPDATE_VM[1] * safety)
        for n in per_region.values()
    )
    binding = "ARM writes (200 burst, 10/s per subscription)"
    if compute > arm:
        binding = "Compute Update VM (1,500 burst, 500/min per subscription and region)"
    reads = math.ceil(len(targets) * READS_PER_TARGET)
    return Estimate(max(arm, compute), len(targets), reads, binding)


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "< 1 s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"

"""The throttle model's estimate of a run (pure): how long launching every PUT takes under
Azure's published write limits, how many ARM requests the run will cost, and when each batch
of a rollout launches and is done by.

Launch time per subscription is bounded by the ARM write bucket (burst ``capacity``, then
``refill`` per second) and, per subscription and region, by Compute's Update VM policy
(1,500 burst, 500 more each minute). The slowest bucket decides; subscriptions run in parallel.
Every bucket is taken at ``safety`` (fleet's configured share, 0.9) of its burst and refill:
the pace a run keeps while it cannot see other clients. A run on a subscription nobody else
spends from learns that from the counts within seconds and then paces at the full refill
(``fleet.azure.bucket_model``, rule 3), so its launch may end up to ``1 - safety`` sooner than
estimated here; others spending from the same buckets make it later.

With the job's ``Forecast`` a batch also gets an *expected* end: each PUT admitted by the buckets
in the batch's (longest-first) order and within ``max_concurrency``, then the agent's pickup and
the target's expected run time; batches follow each other with the soak pauses (health gates'
own time not counted).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from fleet.engine.polling import PollSettings
from fleet.model import Batch, Forecast, JobSpec, RolloutPlan, Target, run_limit_s

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
    arm = max(
        bucket_time(n, ARM_WRITES[0] * safety, ARM_WRITES[1] * safety) for n in per_sub.values()
    )
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
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


@dataclass
class _Bucket:
    """A token bucket over time (starts full), for carrying write budgets across batches."""

    capacity: float
    refill: float
    tokens: float = -1.0
    last: float = 0.0  # when it last admitted a request (``_admit``)

    def admit(self, n: int) -> float:
        """Seconds to admit ``n`` requests now; the bucket is drained accordingly."""
        if self.tokens < 0:
            self.tokens = self.capacity
        wait = max(0.0, (n - self.tokens) / self.refill)
        self.tokens = max(0.0, self.tokens - n)
        return wait

    def idle(self, seconds: float) -> None:
        if self.tokens >= 0:
            self.tokens = min(self.capacity, self.tokens + self.refill * seconds)


@dataclass(frozen=True)
class BatchEstimate:
    index: int
    launch_s: float  # time to admit the batch's PUTs under the write limits
    done_by_s: float  # from the start of the run, at the latest: every script at its timeout
    expected_s: float | None = None  # from the start of the run, with the job's forecast

    @property
    def launch_text(self) -> str:
        return _duration(self.launch_s)

    @property
    def done_by_text(self) -> str:
        return _duration(self.done_by_s)

    @property
    def expected_text(self) -> str:
        return "-" if self.expected_s is None else _duration(self.expected_s)


def batch_estimates(
    spec: JobSpec, plan: RolloutPlan, safety: float = 0.9, forecast: Forecast | None = None
) -> list[BatchEstimate]:
    """Per batch: launch time from the throttle model (write buckets carried across batches,
    refilling while earlier batches run) and a worst-case finish — every script taking its full
    timeout, then its VM its whole reboot_timeout when the job reboots, in waves of
    ``max_concurrency`` — plus soak pauses and health gates; with a ``forecast``, the expected
    finish too (:func:`expected_ends`)."""
    arm: dict[str, _Bucket] = {}
    compute: dict[tuple[str, str], _Bucket] = {}
    rollout, timeout = spec.rollout, run_limit_s(spec.script.timeout_s)
    if rollout.reboot.enabled:
        timeout += rollout.reboot.timeout_s
    gate_s = sum(run_limit_s(g.script.timeout_s) for g in rollout.gates)
    elapsed, out = 0.0, []
    for batch in plan.batches:
        launch = 0.0
        for sub, n in Counter(t.subscription.lower() for t in batch.targets).items():
            bucket = arm.setdefault(sub, _Bucket(ARM_WRITES[0] * safety, ARM_WRITES[1] * safety))
            launch = max(launch, bucket.admit(n))
        for key, n in Counter(
            (t.subscription.lower(), t.location.lower()) for t in batch.targets
        ).items():
            cap, refill = COMPUTE_UPDATE_VM
            launch = max(
                launch, compute.setdefault(key, _Bucket(cap * safety, refill * safety)).admit(n)
            )
        waves = math.ceil(len(batch.targets) / spec.concurrency.resolve(len(plan.targets) or 1))
        spent = launch + waves * timeout
        if batch is not plan.batches[-1]:
            spent += rollout.pause_s + gate_s
        elapsed += spent
        for bucket in (*arm.values(), *compute.values()):
            bucket.idle(spent - launch)
        out.append(BatchEstimate(batch.index, launch, elapsed))
    if forecast is None:
        return out
    ends = expected_ends(spec, plan, forecast, safety)
    return [
        BatchEstimate(b.index, b.launch_s, b.done_by_s, end)
        for b, end in zip(out, ends, strict=True)
    ]


def expected_ends(
    spec: JobSpec, plan: RolloutPlan, forecast: Forecast, safety: float = 0.9
) -> list[float]:
    """Per batch, when it is expected to be done (seconds from the start of the run)."""
    arm: dict[str, _Bucket] = {}
    compute: dict[tuple[str, str], _Bucket] = {}
    slots = spec.concurrency.resolve(len(plan.targets) or 1)
    now, ends = 0.0, []
    for batch in plan.batches:
        now = _expected_batch(batch, forecast, slots, now, arm, compute, safety)
        ends.append(now)
        if batch is not plan.batches[-1]:
            now += spec.rollout.pause_s
    return ends


def _expected_batch(
    batch: Batch,
    forecast: Forecast,
    slots: int,
    start: float,
    arm: dict[str, _Bucket],
    compute: dict[tuple[str, str], _Bucket],
    safety: float,
) -> float:
    pickup = PollSettings().pickup_s
    free: list[float] = [start] * min(slots, len(batch.targets))  # when each slot frees up
    end = start
    for t in batch.targets:  # launch order
        asked = heapq.heappop(free)
        sub, region = t.subscription.lower(), (t.subscription.lower(), t.location.lower())
        arm_bucket = arm.setdefault(sub, _Bucket(ARM_WRITES[0] * safety, ARM_WRITES[1] * safety))
        cap, refill = COMPUTE_UPDATE_VM
        cb = compute.setdefault(region, _Bucket(cap * safety, refill * safety))
        launched = max(_admit(arm_bucket, asked), _admit(cb, asked))
        done = launched + pickup + forecast.expected_s(t.id)
        heapq.heappush(free, done)
        end = max(end, done)
    return end


def _admit(bucket: _Bucket, asked: float) -> float:
    """When one request asked for at ``asked`` is admitted, requests being admitted in order
    (continuous refill: the per-minute Compute bucket at its average rate); charges it."""
    at = max(asked, bucket.last)
    bucket.idle(at - bucket.last)
    if bucket.tokens < 0:
        bucket.tokens = bucket.capacity
    wait = max(0.0, (1.0 - bucket.tokens) / bucket.refill)
    bucket.tokens += wait * bucket.refill - 1.0
    bucket.last = at + wait
    return bucket.last

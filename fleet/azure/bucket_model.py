"""One throttling bucket as fleet sees it (pure: every method takes ``now``, nothing sleeps).

What fleet may spend now (``level``) refills at fleet's pace (``rate``) up to fleet's burst
(``cap``). Five rules keep that below what the server admits (issue #17):

1. **Learn before bursting.** While the bucket's state is unknown — a new bucket, a new process,
   a resume, or no count for ``stale_s`` (the time the server needs to refill it completely) —
   at most ``window`` requests may be in flight. The first answer that carries a count sets
   ``level`` to that count (minus the reserve and what is still in flight), up *or* down, and the
   window opens. An answer without a count widens the window by one (slow start: it doubles per
   round trip) until it covers the burst; a bucket whose server never reports a count (a Compute
   header dialect fleet cannot read) then runs on the published model alone.
2. **Counts only lower a known level.** A known bucket's level drops to ``count - reserve -
   in_flight`` when a count says less; a higher count may be stale (answers overtake each other).
3. **Adapt to others.** While fleet cannot see the others, ``rate`` is its configured share of
   the published refill (0.9: a blind margin for them), or that share of what others leave
   (:mod:`fleet.azure.spending`), whichever is lower. Once the bucket is ``learned`` — a fresh
   count, and a measured estimate of the others (a span of counts, ``SPAN_TOKENS`` of refill
   long) — fleet sees them directly and the margin is not needed: ``rate`` rises to the
   published refill less what they spend (ARM writes: 10/s when nobody else spends, where the
   0.9 share made 9/s — 22 s more on 2,000 PUTs; issue #16). Buckets fleet cannot count (a
   Compute header dialect it cannot read, a per-resource bucket whose others it does not
   estimate, a count gone stale) keep the share. Either pace is cut down to ``LOW_WATER_PACE``
   of it as the last count falls from ``LOW_WATER`` of the server's capacity to empty (others
   may be spending faster than the estimate knows yet: it needs a few seconds of counts), and
   halved by each 429 on the bucket, recovering by a tenth per second (additive increase,
   multiplicative decrease); never below ``MIN_SHARE`` of the configured share. ARM counts are
   read with ``LOW_WATER`` of the capacity kept back (``fleet.azure.limits``), a cushion for the
   same reason; on a fresh subscription fleet's burst is below it anyway.
   Why the full refill is safe: the server admits exactly ``count`` more requests now and
   refills continuously (ARM) or in whole steps (Compute, rule 5) at the published rate
   (azure-reference README, "Throttling limits"), so with fleet's level never above the last
   count less the reserve (rule 2) fleet alone cannot run the bucket dry. A client that starts
   mid-run finds the reserve (10 ARM writes, 75 Update VM calls) waiting for it; what it spends
   lowers the next count, and fleet's level with it at once (rule 2), then within a span the
   estimate of the others and fleet's pace (this rule), so it is never starved below what it
   takes. What fleet gives up is the idle ~10 % of the refill that used to refill the bucket
   towards full while fleet ran alone: a newcomer's *burst* larger than the reserve can meet
   429s it would not have met before (only its first seconds; Azure's counts come on every
   answer: real-behaviour.md, "Throttling headers"; azure-reference README,
   ``x-ms-ratelimit-remaining-subscription-writes``).
4. **Share within fleet.** ``peers`` fleet processes of the same identity on this bucket
   (``fleet.azure.bucket_keeper``) each get ``1/peers`` of the burst, of the pace and of what
   a count says is left — also the moment a peer appears, so a process that burst alone stops
   at its share when another joins.
5. **Whole steps.** A counted bucket the server refills once a minute (Compute) also keeps a
   ``budget``: what the server surely holds for fleet — the last count less the reserve, what
   is in flight and what fleet took since, plus fleet's share of each step that has *surely*
   happened since (:mod:`fleet.azure.steps`). Nothing is sent beyond it, so when others drain
   the bucket fleet waits for the next step instead of running ahead of it on the average rate.
   Fleet alone never meets it (the burst and pace stay below the counts).

Before the server first answers, nothing refills: its bucket may be created (full) only when
our first request arrives, however long that takes (azure-reference README, "Throttling
limits"). ``limits`` hold what fleet allows itself (``capacity``, ``refill_per_s``: the
published numbers times the share) and the server's published numbers the counts are read
against; all rates are per wall second (already multiplied by an emulator's time scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fleet.azure.spending import Refill, Spending
from fleet.azure.steps import Steps

PROBE_WINDOW = 1  # requests in flight on a bucket whose state is unknown
LOW_WATER = 0.05  # of the server's capacity: below it the pace slows (see rule 3)
LOW_WATER_PACE = 0.2  # the pace's share left when the last count was zero
MIN_SHARE = 0.05  # the pace never drops below this share of the configured one
MIN_STALE_S = 2.0
_EPS = 1e-9


@dataclass(frozen=True)
class BucketLimits:
    """What fleet allows itself on one bucket, and the server's published numbers."""

    capacity: float  # fleet's burst
    refill_per_s: float  # fleet's pace: its configured share of the published refill
    sync_reserve: float = 0.0  # tokens kept back when reading a count (Compute's refill phase)
    server_capacity: float = 0.0  # published; 0 = not known (no estimate of others)
    server_refill_per_s: float = 0.0
    refill_period_s: float = 0.0  # the server refills in whole steps this often (0: continuous)
    watch_others: bool = True  # estimate others' spending (subscription-wide buckets)

    @property
    def share(self) -> float:
        """fleet's configured share of the published refill (1 when not known)."""
        if self.server_refill_per_s <= 0:
            return 1.0
        return self.refill_per_s / self.server_refill_per_s

    def refill(self) -> Refill | None:
        if self.server_capacity <= 0 or self.server_refill_per_s <= 0 or not self.watch_others:
            return None
        return Refill(self.server_capacity, self.server_refill_per_s, self.refill_period_s)


@dataclass(frozen=True)
class BucketReading:
    """What a bucket knows at one instant (for the journal, peers, logs and tests)."""

    level: float
    rate: float
    in_flight: int
    known: bool
    count: int | None  # the server's last count, if any
    others_per_s: float


class BucketModel:
    """The state of one bucket; see the module doc for the rules."""

    def __init__(self, limits: BucketLimits, *, level: float | None = None) -> None:
        if limits.refill_per_s <= 0:
            raise ValueError(f"a bucket needs a positive refill rate, got {limits}")
        self.limits = limits
        self.peers = 1
        self.level = self.cap if level is None else min(self.cap, max(0.0, level))
        self.in_flight = 0
        self.paused_until = -math.inf
        self.known = False
        self.counted = False  # the server has reported a count for this bucket
        self.window = PROBE_WINDOW
        self.count: int | None = None
        self.count_at = -math.inf
        self.charged = 0  # our requests the server charged (answered, not 429), all told
        self.backoff = 1.0  # halved by a 429, recovers by 0.1 per second
        refill = limits.refill()
        self.spending = Spending(refill) if refill is not None else None
        self.steps = _steps(limits)
        self.budget = math.inf  # what the server surely holds for fleet (stepped: rule 5)
        self._stamp: float | None = None  # refill clock; None until the server first answers

    @property
    def cap(self) -> float:
        return max(1.0, self.limits.capacity / self.peers)

    @property
    def stale_s(self) -> float:
        limits = self.limits
        if limits.server_refill_per_s > 0 and limits.server_capacity > 0:
            full = limits.server_capacity / limits.server_refill_per_s
        else:
            full = limits.capacity / limits.refill_per_s
        return max(MIN_STALE_S, full)

    @property
    def stepped(self) -> bool:
        """A counted bucket the server refills in steps (rule 5)."""
        return self.steps is not None and self.counted

    @property
    def learned(self) -> bool:
        """fleet sees the others on this bucket: a fresh count, and a measured estimate of what
        others spend (rule 3: its pace may then rise to the full refill less theirs)."""
        spending = self.spending
        return self.known and self.counted and spending is not None and spending.measured

    def rate(self) -> float:
        """fleet's pace on this bucket now, tokens per second (rule 3)."""
        limits = self.limits
        own = limits.refill_per_s / self.peers
        pace = own
        if self.spending is not None:
            left = max(0.0, limits.server_refill_per_s - self.spending.rate)
            if self.learned:
                pace = min(limits.server_refill_per_s / self.peers, left)
            else:
                pace = min(own, limits.share * left)
            if self.known and self.count is not None:
                low = LOW_WATER * limits.server_capacity
                full = min(1.0, self.count / low)
                pace *= LOW_WATER_PACE + (1 - LOW_WATER_PACE) * full
        pace *= self.backoff
        return max(pace, MIN_SHARE * own)

    def _step_tokens(self) -> float:
        """What one sure step gives fleet: its share of the step, less what others take."""
        limits, steps = self.limits, self.steps
        assert steps is not None
        own = limits.refill_per_s * steps.period_s / self.peers
        tokens = own
        if self.spending is not None:
            left = max(0.0, steps.amount - self.spending.rate * steps.period_s)
            if self.learned:
                tokens = min(steps.amount / self.peers, left)
            else:
                tokens = min(own, limits.share * left)
        return max(tokens * self.backoff, MIN_SHARE * own)

    def _refill(self, now: float) -> None:
        if self._stamp is None:
            return
        elapsed = now - self._stamp
        if elapsed <= 0:
            return
        if self.steps is not None and self.stepped:
            self.budget += self.steps.due(now) * self._step_tokens()
        self.level = min(self.cap, self.level + self.rate() * elapsed)
        self.backoff = min(1.0, self.backoff + 0.1 * elapsed)
        self._stamp = now

    def _expire(self, now: float) -> None:
        if self.known and self.counted and now - self.count_at > self.stale_s:
            self.known = False
            self.window = PROBE_WINDOW

    def wait(self, now: float) -> float:
        """Seconds until a request may take a token (0: now; ``inf``: until something changes —
        an answer, a count, more peers or fewer)."""
        if now < self.paused_until:
            return self.paused_until - now
        self._expire(now)
        if not self.known and self.in_flight >= self.window:
            return math.inf
        self._refill(now)
        if self.budget < 1 - _EPS and self.steps is not None and self.steps.next_at is not None:
            return max(_EPS, self.steps.next_at - now)  # nothing surely left before a step
        if self.level >= 1 - _EPS:
            return 0.0
        if self._stamp is None:
            return math.inf
        return (1 - self.level) / self.rate()

    def take(self, now: float) -> None:
        self._refill(now)
        self.level -= 1
        self.budget -= 1
        self.in_flight += 1

    def untake(self, now: float) -> None:
        """A token taken for a request that was never sent comes back."""
        self._refill(now)
        self.in_flight = max(0, self.in_flight - 1)
        self.level = min(self.cap, self.level + 1)
        self.budget += 1

    def answered(self, now: float, count: int | None, *, charged: bool) -> None:
        """A request that held a token was answered (``charged``: not a 429), with the server's
        count for this bucket if the answer carried one it could be attributed to."""
        self._refill(now)
        self.in_flight = max(0, self.in_flight - 1)
        if self._stamp is None:
            self._stamp = now  # the server's bucket exists now: ours starts to refill
        self.charged += charged
        if count is not None:
            self._observe(now, count)
        elif not self.known:
            self.window += 1
            if self.window >= self.cap:
                self.known = True  # slow start covered the burst: the model alone from here

    def _share_of(self, count: int) -> float:
        """This process's share of what a count says is left, less what it has in flight."""
        return (count - self.limits.sync_reserve) / self.peers - self.in_flight

    def _observe(self, now: float, count: int) -> None:
        target = self._share_of(count)
        if self.steps is not None:
            self.steps.observe(now, self.count, count, self.in_flight)
            self.budget = target  # what the server holds now, up or down: the count is the news
        if self.known:
            self.level = min(self.level, max(0.0, target))
        else:  # learning: open up to what the count allows
            self.level = min(self.cap, max(0.0, target))
            self.known = True
        self.counted = True
        self.count, self.count_at = count, now
        if self.spending is not None:
            self.spending.observe(now, count, self.charged)

    def throttled(self, now: float, seconds: float) -> None:
        """A 429 on this bucket: nothing is sent before ``seconds`` from now, and the pace
        halves (it recovers additively)."""
        self._refill(now)
        self.paused_until = max(self.paused_until, now + max(0.0, seconds))
        self.backoff = max(MIN_SHARE, self.backoff / 2)

    def pause(self, now: float, seconds: float) -> None:
        """Nothing is sent before ``seconds`` from now (pauses only ever extend)."""
        self.paused_until = max(self.paused_until, now + max(0.0, seconds))

    def restore(self, now: float, level: float) -> None:
        """Start from a remembered estimate (a journaled count plus the refill since) rather
        than a full bucket; the server's bucket exists, so ours refills from now on."""
        self.level = min(self.cap, max(0.0, level))
        self._stamp = now

    def set_peers(self, now: float, peers: int) -> None:
        """``peers`` processes share this bucket now: burst, pace and what is left are split."""
        self._refill(now)
        self.peers = max(1, peers)
        self.level = min(self.level, self.cap)
        if self.known and self.count is not None:
            self.level = min(self.level, max(0.0, self._share_of(self.count)))

    def reading(self, now: float) -> BucketReading:
        self._expire(now)
        self._refill(now)
        others = self.spending.rate if self.spending is not None else 0.0
        return BucketReading(
            self.level, self.rate(), self.in_flight, self.known, self.count, others
        )


def _steps(limits: BucketLimits) -> Steps | None:
    if limits.refill_period_s <= 0 or limits.server_capacity <= 0:
        return None
    amount = limits.server_refill_per_s * limits.refill_period_s
    return Steps(limits.refill_period_s, amount, limits.server_capacity)

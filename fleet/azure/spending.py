"""What *others* spend from a shared bucket, read from the server's counts (pure).

ARM's write bucket is per subscription and principal, so a crashed fleet process, another job of
the same service principal or a second ``fleet run`` spend from fleet's own bucket; Compute's
per-subscription buckets are shared by every principal (issue #17). None of them tells fleet
what it spends, but the ``x-ms-ratelimit-remaining-*`` count on each response says what is left,
and fleet knows what it spent itself. Between two counts ``dt`` seconds apart::

    count_now = count_then + refill(dt) - ours - others        (while the bucket is not full)

so ``others = (count_then + refill(dt) - ours - count_now) / dt`` per second. ``ours`` counts
fleet's requests the server charged (answered, not 429) between the two counts.

Two things make the refill uncertain, and both are resolved towards *fewer* others (fleet must
never slow down below its pace because of a guess):

* a bucket that may have been full during ``dt`` discarded refill nobody spent: such spans are
  not measured (the estimate decays instead, which is harmless: with a full bucket nobody waits);
* Compute refills in whole steps once a minute at a phase fleet cannot see: the lower bound
  (``floor(dt / period)`` steps) is used, so a span inside one minute reads exactly, and a span
  whose count rose (a step inside it) is not read at all.

Spans are at least :data:`MIN_SPAN_S` wall seconds and ``SPAN_TOKENS`` tokens of refill long (so
counts that are integers and answers that arrive out of order average out), at most twice that.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

MIN_SPAN_S = 1.0
SPAN_TOKENS = 30.0  # a span sees at least this much refill: +-1 token of noise is ~3 %


@dataclass(frozen=True)
class Refill:
    """How the server refills: ``per_s`` on average, continuously or in steps of ``period_s``."""

    capacity: float
    per_s: float
    period_s: float = 0.0  # 0: continuous (ARM); else whole steps this often (Compute)

    def at_least(self, dt: float) -> float:
        if self.period_s <= 0:
            return self.per_s * dt
        return math.floor(dt / self.period_s) * self.per_s * self.period_s

    def at_most(self, dt: float) -> float:
        if self.period_s <= 0:
            return self.per_s * dt
        return math.ceil(dt / self.period_s) * self.per_s * self.period_s


class Spending:
    """The others' spending rate (tokens per second) of one bucket, updated from its counts."""

    def __init__(self, refill: Refill) -> None:
        self.refill = refill
        self.rate = 0.0
        self.span_s = max(MIN_SPAN_S, SPAN_TOKENS / refill.per_s)
        self._samples: deque[tuple[float, int, int]] = deque()
        self._updated = -math.inf
        # A span of counts has been read: ``rate`` is a measurement, not the initial 0 (a span
        # in which the bucket may have been full counts too: then nobody was short of tokens).
        self.measured = False

    def observe(self, now: float, count: int, ours: int) -> None:
        """The server said ``count`` at ``now``; fleet had then been charged ``ours`` in all."""
        samples = self._samples
        samples.append((now, count, ours))
        while len(samples) > 2 and now - samples[1][0] >= self.span_s:
            samples.popleft()  # keep the oldest sample that still spans at least span_s
        if now - self._updated < self.span_s / 4:
            return
        then, count_then, ours_then = samples[0]
        dt = now - then
        if dt < self.span_s:
            return
        self._updated = now
        if count_then + self.refill.at_most(dt) > self.refill.capacity + 1e-6:
            self.rate /= 2  # it may have been full: what others spent is not visible
            self.measured = True
            return
        lost = count_then - (ours - ours_then) - count  # beyond our own spending
        least = (lost + self.refill.at_least(dt)) / dt
        if least < 0 <= (lost + self.refill.at_most(dt)) / dt and self.refill.period_s > 0:
            return  # a step may lie inside the span: it says nothing about others
        self.rate = max(0.0, least)
        self.measured = True

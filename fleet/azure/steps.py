"""When a bucket that refills in whole steps has surely refilled (pure).

Compute refills each bucket once a minute, at a phase fleet cannot see (azure-reference README,
"Throttling limits"). Between two steps the server admits exactly the count it last reported,
less what others spend; a continuous model refilling at the average rate would run ahead of it
whenever the count is low. So once a bucket's count is known, fleet credits it with a step only
at times it is *sure* one has happened (``BucketModel.budget``, rule 5):

* a step happens at most one period after any instant, so the first count at ``t`` puts the next
  sure step at ``t + period``, and each sure step the next one period later;
* a count that jumps up (by more than answers overtaking each other could explain) shows a step
  has just happened, and the count says what it gave: the next one is at most one period from
  now (the bound restarts from now — never earlier than a step it bounds, so nothing is
  credited twice).

Steps are credited no earlier than the server makes them; up to a period late when fleet has
not seen one happen, never early. Counts in between carry the truth (a count after a step shows
what it gave), so lateness only matters to a bucket others have drained.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Steps:
    period_s: float
    amount: float  # the server's refill per step
    capacity: float  # the server's capacity
    next_at: float | None = None  # the time by which the next step has surely happened

    def due(self, now: float) -> int:
        """Steps surely passed since the last call (the bound moves on by a period each)."""
        passed = 0
        while self.next_at is not None and now >= self.next_at:
            self.next_at += self.period_s
            passed += 1
        return passed

    def observe(self, now: float, before: int | None, count: int, in_flight: int) -> bool:
        """A count at ``now`` (``before``: the previous one); True if it shows a step."""
        if self.next_at is None:
            self.next_at = now + self.period_s
            return False
        if before is None:
            return False
        headroom = max(0.0, self.capacity - before)
        threshold = max(2 * in_flight + 2, 0.25 * min(self.amount, headroom))
        if count - before <= threshold:
            return False
        self.next_at = now + self.period_s
        return True

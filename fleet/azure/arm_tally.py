"""ARM request counters: ``ArmTally`` (requests per kind, 429s, retries, and the wall time during
which at least one request was held back) and ``counting()``, which gives one piece of work —
a Temporal activity, say — counters of its own besides the connection's.

A connection (``ThrottleState``) counts every request in its own tally; inside ``with
counting() as tally:`` the requests made by this task, and by the tasks it starts (they inherit
its context), are counted in ``tally`` too, so work running side by side on one connection
gets exact figures each, not shares of a total.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from fleet.azure.limiter import Clock
from fleet.model import ArmCounters

_CURRENT: ContextVar[ArmTally | None] = ContextVar("fleet_arm_tally", default=None)


class ArmTally:
    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._requests: Counter[str] = Counter()
        self._throttled = 0
        self._retries = 0
        self._wait_s = 0.0  # wall seconds during which at least one request was held back
        self._waiters = 0
        self._wait_since = 0.0

    def counters(self) -> ArmCounters:
        return ArmCounters(
            requests=dict(self._requests),
            throttled=self._throttled,
            throttle_wait_s=self._wait_s,
            retries=self._retries,
        )

    def response(self, kind: str, *, throttled: bool) -> None:
        self._requests[kind] += 1
        self._throttled += throttled

    def retry(self) -> None:
        self._retries += 1

    def wait_started(self) -> None:
        # Wall time, not request-seconds: 2,000 requests queued for 10 s is 10 s of waiting.
        if self._waiters == 0:
            self._wait_since = self.clock()
        self._waiters += 1

    def wait_ended(self) -> None:
        self._waiters -= 1
        if self._waiters == 0:
            self._wait_s += max(0.0, self.clock() - self._wait_since)


def current() -> ArmTally | None:
    """The tally of the ``counting()`` block this code runs in, if any."""
    return _CURRENT.get()


@contextmanager
def counting(clock: Clock = time.monotonic) -> Iterator[ArmTally]:
    """Count the ARM requests of this block (and of the tasks it starts) in a tally of its own."""
    tally = ArmTally(clock)
    token = _CURRENT.set(tally)
    try:
        yield tally
    finally:
        _CURRENT.reset(token)

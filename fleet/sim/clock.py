"""Simulated time: Azure-equivalent seconds that run K times faster than the wall clock.

All emulator logic (token-bucket refills, script durations, timeouts) is written in
Azure-seconds; only sleeping and ``Retry-After`` values are converted back to wall time.
Timestamps on the wire (``startTime``/``endTime``) are the simulated UTC time, so durations a
client computes from them are Azure-equivalent too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimClock:
    """``now()``: Azure-seconds since the emulator started; ``utc(t)``: the simulated wall time."""

    def __init__(self, time_scale: float = 1.0, monotonic: Callable[[], float] = time.monotonic):
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self.time_scale = float(time_scale)
        self._monotonic = monotonic
        self._t0 = monotonic()
        self._utc0 = datetime.now(UTC)

    def now(self) -> float:
        return (self._monotonic() - self._t0) * self.time_scale

    def to_wall(self, azure_seconds: float) -> float:
        """How long ``azure_seconds`` of simulated time takes on the wall clock."""
        return azure_seconds / self.time_scale

    def utc(self, t: float | None = None) -> datetime:
        return self._utc0 + timedelta(seconds=self.now() if t is None else t)


class ManualClock(SimClock):
    """A clock tests move by hand (``advance``); never sleeps."""

    def __init__(self, time_scale: float = 1.0) -> None:
        self._t = 0.0
        super().__init__(time_scale, monotonic=lambda: self._t / self.time_scale)

    def advance(self, azure_seconds: float) -> None:
        self._t += azure_seconds

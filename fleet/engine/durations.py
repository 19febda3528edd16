"""How long run commands take, learned while the run is in flight (pure, no I/O).

A log-normal fitted by EM to censored observations — the only honest ones polling gives:
- a completion is known only to lie between the last poll that saw the target running and the
  poll that saw it finished (interval-censored);
- a target still running is known only to take longer than its last poll (right-censored).
Counting the runners matters: while targets are still being launched, the completions seen so
far are the short ones, and a plain sample of them underestimates every quantile.

Observations are bucketed on a log-time grid so a fit costs O(buckets), not O(targets).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from statistics import NormalDist

GRID = 16  # buckets per e-fold of time: ~6 % wide, far finer than any poll schedule
MIN_SIGMA = 0.05
_STD = NormalDist()
_INF = math.inf


def _bucket(elapsed: float) -> int | None:
    return math.floor(math.log(elapsed) * GRID) if elapsed > 0 else None


def _moments(a: float, b: float, mu: float, sigma: float) -> tuple[float, float, float]:
    """(probability, E[x], E[x²]) of N(mu, sigma) restricted to (a, b]."""
    za, zb = (a - mu) / sigma, (b - mu) / sigma
    p = _STD.cdf(zb) - _STD.cdf(za)
    if p < 1e-12:  # far in a tail: the nearest end of the interval is as good as it gets
        x = min(max(mu, a), b)
        return 0.0, x, x * x
    pa = _STD.pdf(za) if za > -_INF else 0.0
    pb = _STD.pdf(zb) if zb < _INF else 0.0
    m1 = (pa - pb) / p
    m2 = ((za * pa if za > -_INF else 0.0) - (zb * pb if zb < _INF else 0.0)) / p
    ex = mu + sigma * m1
    return p, ex, mu * mu + 2 * mu * sigma * m1 + sigma * sigma * (1 + m2)


class DurationModel:
    """Completion times (seconds since launch) of one run's targets, as a fitted log-normal."""

    def __init__(self) -> None:
        self._done: Counter[tuple[int | None, int]] = Counter()  # (lower, upper) bucket
        self._running: Counter[int] = Counter()  # bucket of the last poll that saw it running
        self._last_seen: dict[str, int] = {}
        self.completions = 0
        self.mu, self.sigma = 0.0, 1.0
        self._observations = 0
        self._fitted_at = -1

    def running(self, key: str, elapsed: float) -> None:
        """A poll at ``elapsed`` saw target ``key`` still running."""
        bucket = _bucket(elapsed)
        self._forget(key)
        if bucket is not None:
            self._last_seen[key] = bucket
            self._running[bucket] += 1
        self._observations += 1

    def finished(self, key: str, elapsed: float, previous_poll_elapsed: float) -> None:
        """A poll at ``elapsed`` saw ``key`` finished; the one before (or launch, 0) did not."""
        self._forget(key)
        upper = _bucket(elapsed)
        if upper is not None:
            self._done[(_bucket(previous_poll_elapsed), upper)] += 1
            self.completions += 1
        self._observations += 1

    def completed(self) -> list[tuple[int | None, int, int]]:
        """The completions seen, as (lower bucket, upper bucket, count): what another model of
        the same run learns from (``learn``)."""
        return [(lo, hi, n) for (lo, hi), n in self._done.items()]

    def learn(self, completed: Iterable[tuple[int | None, int, int]]) -> None:
        """Take completions another model of the same run saw (``completed``)."""
        for lo, hi, n in completed:
            self._done[(lo, hi)] += n
            self.completions += n
            self._observations += n

    def _forget(self, key: str) -> None:
        old = self._last_seen.pop(key, None)
        if old is not None:
            self._running[old] -= 1
            if not self._running[old]:
                del self._running[old]

    def refresh(self) -> None:
        """Refit when enough is new: every observation early on, every ~6 % of them later."""
        if not self.completions:
            return
        due = max(1, min(256, self._observations // 16))
        if self._fitted_at >= 0 and self._observations - self._fitted_at < due:
            return
        if self._fitted_at < 0:
            self._start()
        for _ in range(30 if self._fitted_at < 0 else 4):
            self._em_step()
        self._fitted_at = self._observations

    def _start(self) -> None:
        uppers = [(upper + 1) / GRID for (_, upper), n in self._done.items() for _ in range(n)]
        self.mu, self.sigma = sum(uppers) / len(uppers), 1.0

    def _intervals(self) -> list[tuple[float, float, int]]:
        spans = [
            (-_INF if lo is None else lo / GRID, (hi + 1) / GRID, n)
            for (lo, hi), n in self._done.items()
        ]
        return spans + [(b / GRID, _INF, n) for b, n in self._running.items()]

    def _em_step(self) -> None:
        total = s1 = s2 = 0.0
        for a, b, n in self._intervals():
            _, ex, ex2 = _moments(a, b, self.mu, self.sigma)
            total, s1, s2 = total + n, s1 + n * ex, s2 + n * ex2
        mu = s1 / total
        self.mu, self.sigma = mu, max(MIN_SIGMA, math.sqrt(max(s2 / total - mu * mu, 0.0)))

    def quantile(self, p: float) -> float:
        """Elapsed seconds by which a fraction ``p`` of targets has finished."""
        p = min(max(p, 1e-9), 1 - 1e-9)
        return math.exp(self.mu + self.sigma * _STD.inv_cdf(p))

    def survival(self, elapsed: float) -> float:
        """Fraction of targets expected to still be running at ``elapsed``."""
        if elapsed <= 0:
            return 1.0
        return 1.0 - _STD.cdf((math.log(elapsed) - self.mu) / self.sigma)

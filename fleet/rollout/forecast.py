"""Learning a job's ``Forecast`` from its earlier runs (pure: the journal's records come in as
``Observation`` values; ``fleet.api.forecast`` reads them).

Scripts on a VM take similar times run after run (a slow disk is slow every time), with noise
and the odd outlier (a package mirror that stalled once). So, in log-time:

- a target's own time is the weighted median of its observed times (from two observations on,
  robust to one odd run; with two, their weighted mean), each run weighing half as much every
  ``half_life`` runs back, so a VM that got faster is believed after a few runs;
- the job's typical time, for targets without a history of their own (new VMs), is the median
  of the targets' own times;
- ``spread``, one run's scatter around a target's expectation, is estimated robustly from the
  two latest runs of the targets that have both (median absolute difference, scaled to a
  standard deviation); with a single earlier run it is ``PRIOR_SPREAD``;
- a target's expectation is its own time pulled toward the typical one by as much as its few
  runs may be luck (empirical Bayes: the fleet's true spread of times ``tau`` against one run's
  noise, weight ``tau² / (tau² + spread² / runs)``). Without it the targets that were quickest
  by chance last time — the ones launched last — come back slower, and are read too early and
  too often. The pull keeps the order of targets with as many runs; the next run's own scatter
  (``per_target_spread``) adds what is left unsure of the expectation.

No earlier run, no forecast (None): a job's first run launches in its rollout order, blind to
durations, as it always did.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from fleet.model import Forecast

HALF_LIFE_RUNS = 3.0  # an observation weighs half as much every 3 runs back
PRIOR_SPREAD = 0.25  # log-sd of one run around its target's expectation, before it is measured
MIN_SPREAD, MAX_SPREAD = 0.05, 1.0
_MAD_TO_SD = 1.4826  # median absolute deviation of a normal x 1.4826 = its standard deviation


@dataclass(frozen=True)
class Observation:
    """One target's script run time (Azure seconds) in one earlier run, ``runs_ago`` runs back
    (0: the latest run that ran it)."""

    target: str  # ARM id (any case)
    seconds: float
    runs_ago: int = 0


def _weighted_median(points: list[tuple[float, float]]) -> float:
    """Of (value, weight) pairs: the weighted median; with two, the weighted mean."""
    if len(points) == 2:
        (a, wa), (b, wb) = points
        return (a * wa + b * wb) / (wa + wb)
    points = sorted(points)
    half, running = sum(w for _, w in points) / 2, 0.0
    for value, weight in points:
        running += weight
        if running >= half:
            return value
    return points[-1][0]


def _spread(latest_two: Iterable[tuple[float, float]]) -> float:
    """Per-run log-sd from (latest, previous) log-times of targets with both."""
    gaps = [abs(a - b) for a, b in latest_two]
    if not gaps:
        return PRIOR_SPREAD
    # the difference of two runs carries the noise of both: sd x sqrt(2)
    estimate = _MAD_TO_SD * statistics.median(gaps) / math.sqrt(2)
    return min(max(estimate, MIN_SPREAD), MAX_SPREAD)


def learn(
    observations: Iterable[Observation], *, half_life: float = HALF_LIFE_RUNS
) -> Forecast | None:
    """The forecast the observations support; None when there are none."""
    by_target: dict[str, list[tuple[int, float]]] = defaultdict(list)
    runs: set[int] = set()
    for o in observations:
        if o.seconds > 0 and math.isfinite(o.seconds):
            by_target[o.target.lower()].append((o.runs_ago, math.log(o.seconds)))
            runs.add(o.runs_ago)
    if not by_target:
        return None
    own: dict[str, float] = {}
    pairs: list[tuple[float, float]] = []
    for key, seen in by_target.items():
        seen.sort()
        weighted = [(log_s, 0.5 ** (ago / half_life)) for ago, log_s in seen]
        own[key] = _weighted_median(weighted)
        if len(seen) >= 2:
            pairs.append((seen[0][1], seen[1][1]))
    typical, spread = statistics.median(own.values()), _spread(pairs)
    counts = {key: len(seen) for key, seen in by_target.items()}
    tau2 = _true_variance(own, counts, typical, spread)
    expected, uncertainty = {}, {}
    for key, log_s in own.items():
        noise2 = spread**2 / counts[key]  # how far the own time may be from the true one
        weight = tau2 / (tau2 + noise2)
        expected[key] = math.exp(typical + weight * (log_s - typical))
        uncertainty[key] = math.sqrt(spread**2 + weight * noise2)  # next run + the estimate's
    return Forecast(
        per_target=expected,
        typical_s=math.exp(typical),
        spread=spread,
        runs=len(runs),
        per_target_spread=uncertainty,
        new_spread=math.sqrt(spread**2 + tau2),
    )


def _true_variance(
    own: dict[str, float], counts: dict[str, int], typical: float, spread: float
) -> float:
    """The fleet's spread of true log-times (robust): what the own times scatter, less what
    their runs' noise explains; at least ``MIN_SPREAD``²."""
    deviations = [abs(v - typical) for v in own.values()]
    scatter = (_MAD_TO_SD * statistics.median(deviations)) ** 2
    noise = statistics.fmean(spread**2 / counts[k] for k in own)
    return max(scatter - noise, MIN_SPREAD**2)

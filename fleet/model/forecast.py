"""``Forecast``: how long a job's script is expected to run on each target, learned from the
job's earlier runs (``fleet.rollout.forecast.learn`` makes one from the journal's records).

Times are the script's own run time in Azure seconds (the instance view's ``startTime`` to
``endTime``), not counting the VM agent's pickup. A target without a history of its own gets the
job's typical time (the median over the targets that have one). ``spread`` is how much one
run's time scatters around a target's expectation (the standard deviation of log-time); the
next run's scatter (:meth:`Forecast.spread_of`) adds how unsure the expectation itself is, so
:meth:`Forecast.quantile_s` can say by when a run is done with a given probability.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from statistics import NormalDist

from fleet.model.targets import Target

_STD = NormalDist()


@dataclass(frozen=True)
class Forecast:
    per_target: Mapping[str, float] = field(default_factory=dict)  # lower-cased id -> seconds
    typical_s: float = 0.0  # the job's median over its targets: for targets without history
    spread: float = 0.25  # log-sd of one run around a target's expectation
    runs: int = 0  # earlier runs it learned from
    # log-sd of the next run around a target's expectation, when it differs from ``spread``
    # (the expectation itself is uncertain after few runs); lower-cased id -> log-sd
    per_target_spread: Mapping[str, float] = field(default_factory=dict)
    new_spread: float | None = None  # the same for a target without history (None: ``spread``)

    def known(self, target_id: str) -> bool:
        return target_id.lower() in self.per_target

    def expected_s(self, target_id: str) -> float:
        """The target's expected run time (the job's typical one without its own history)."""
        return self.per_target.get(target_id.lower(), self.typical_s)

    def spread_of(self, target_id: str) -> float:
        """The log-sd of this target's next run time around :meth:`expected_s`."""
        key = target_id.lower()
        if key in self.per_target:
            return self.per_target_spread.get(key, self.spread)
        return self.spread if self.new_spread is None else self.new_spread

    def quantile_s(self, target_id: str, p: float) -> float:
        """The run time a share ``p`` of this target's next runs stays under."""
        z = _STD.inv_cdf(min(max(p, 1e-6), 1 - 1e-6))
        return self.expected_s(target_id) * math.exp(z * self.spread_of(target_id))

    def longest_first(self, targets: Iterable[Target]) -> tuple[Target, ...]:
        """``targets`` by expected run time, longest first (ties keep their order)."""
        return tuple(sorted(targets, key=lambda t: -self.expected_s(t.id)))

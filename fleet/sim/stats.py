"""Ground-truth counters for tests and benchmarks: requests by operation and status, 429s sent
(by bucket), faults injected. Exposed through ``/_sim/stats``; the engine never sees them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)  # operation name -> count
    statuses: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    kinds: Counter[str] = field(default_factory=Counter)  # reads / writes / deletes / graph
    throttled: Counter[str] = field(default_factory=Counter)  # bucket -> 429s sent
    faults: Counter[str] = field(default_factory=Counter)  # fault kind -> count
    total: int = 0

    def record(self, operation: str, kind: str | None, status: int) -> None:
        self.total += 1
        self.requests[operation] += 1
        self.statuses[operation][status] += 1
        if kind:
            self.kinds[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "total_requests": self.total,
            "requests": dict(self.requests),
            "statuses": {op: {str(s): n for s, n in c.items()} for op, c in self.statuses.items()},
            "kinds": dict(self.kinds),
            "throttled": dict(self.throttled),
            "throttled_total": sum(self.throttled.values()),
            "faults": dict(self.faults),
        }

    def reset(self) -> None:
        self.requests.clear()
        self.statuses.clear()
        self.kinds.clear()
        self.throttled.clear()
        self.faults.clear()
        self.total = 0

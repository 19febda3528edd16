"""Request-level fault injection: transient 5xx, connection resets and 429 storms.

Configured from a profile's ``faults`` section and changeable at run time through
``/_sim/faults`` (so a test can start a storm in the middle of a run). Connection resets may be
limited to some methods and operations (e.g. only run-command PUTs); a reset *after processing*
drops the connection once the request has taken effect, so the client never sees the answer.
Decisions come from a seeded RNG, so a run with the same seed and request order sees the same
faults. Per-VM faults (deallocated, agent not ready, wedged) live in the inventory, not here.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    NONE = "none"
    RESET_BEFORE = "reset_before"  # the connection drops before the request is processed
    RESET_AFTER = "reset_after"  # processed (e.g. the run command was created), response lost
    TRANSIENT = "transient"  # 500/503 with an ARM error body
    STORM = "storm"  # 429 from a throttle storm


@dataclass(frozen=True)
class Storm:
    start: float  # Azure-seconds since emulator start
    duration: float
    rate: float  # fraction of requests refused while the storm lasts
    retry_after: float = 5.0

    def active(self, now: float) -> bool:
        return self.start <= now < self.start + self.duration


@dataclass(frozen=True)
class FaultConfig:
    transient_rate: float = 0.0
    transient_statuses: tuple[int, ...] = (500, 503)
    reset_rate: float = 0.0
    reset_after_processing: float = 0.5
    reset_methods: tuple[str, ...] = ()  # empty: any method
    reset_operations: tuple[str, ...] = ()  # operation ids or globs; empty: any operation
    storms: tuple[Storm, ...] = ()
    conflict_rate: float = 0.0  # run-command writes answered 409 (another operation in progress)
    methods: tuple[str, ...] = ("GET", "PUT", "PATCH", "DELETE", "POST")

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, now: float = 0.0) -> FaultConfig:
        """Parse the profile/``/_sim/faults`` shape; storm ``start`` may be relative (``"+5"``)."""
        transient = data.get("transient") or {}
        resets = data.get("connection_resets") or {}
        storms = tuple(_storm(s, now) for s in data.get("throttle_storms") or ())
        return cls(
            transient_rate=float(transient.get("rate", 0.0)),
            transient_statuses=tuple(int(s) for s in transient.get("statuses", (500, 503))),
            reset_rate=float(resets.get("rate", 0.0)),
            reset_after_processing=float(resets.get("after_processing", 0.5)),
            reset_methods=tuple(m.upper() for m in resets.get("methods") or ()),
            reset_operations=tuple(resets.get("operations") or ()),
            storms=storms,
            conflict_rate=float((data.get("conflicts") or {}).get("rate", 0.0)),
            methods=tuple(m.upper() for m in data.get("methods", cls.methods)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "transient": {"rate": self.transient_rate, "statuses": list(self.transient_statuses)},
            "connection_resets": {
                "rate": self.reset_rate,
                "after_processing": self.reset_after_processing,
                "methods": list(self.reset_methods),
                "operations": list(self.reset_operations),
            },
            "throttle_storms": [s.__dict__ for s in self.storms],
            "conflicts": {"rate": self.conflict_rate},
            "methods": list(self.methods),
        }


def _storm(raw: dict[str, Any], now: float) -> Storm:
    start = raw.get("start", 0.0)
    if isinstance(start, str) and start.startswith("+"):
        start_s = now + float(start[1:])
    else:
        start_s = float(start)
    return Storm(
        start=start_s,
        duration=float(raw["duration"]),
        rate=float(raw.get("rate", 1.0)),
        retry_after=float(raw.get("retry_after", 5.0)),
    )


@dataclass
class FaultDecision:
    kind: FaultKind
    status: int = 0
    retry_after: float = 0.0


@dataclass
class FaultInjector:
    config: FaultConfig = field(default_factory=FaultConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def reconfigure(self, config: FaultConfig) -> None:
        self.config = config

    def clear_storms(self) -> None:
        self.config = replace(self.config, storms=())

    def conflict(self) -> bool:
        """Whether this run-command write meets another operation in progress (409)."""
        return bool(self.config.conflict_rate) and self._rng.random() < self.config.conflict_rate

    def decide(self, method: str, now: float, operation: str = "") -> FaultDecision:
        cfg = self.config
        if method.upper() not in cfg.methods:
            return FaultDecision(FaultKind.NONE)
        for storm in cfg.storms:
            if storm.active(now) and self._rng.random() < storm.rate:
                return FaultDecision(FaultKind.STORM, 429, storm.retry_after)
        resettable = _selected(method.upper(), cfg.reset_methods) and _matches_operation(
            operation, cfg.reset_operations
        )
        if cfg.reset_rate and resettable and self._rng.random() < cfg.reset_rate:
            after = self._rng.random() < cfg.reset_after_processing
            return FaultDecision(FaultKind.RESET_AFTER if after else FaultKind.RESET_BEFORE)
        if cfg.transient_rate and self._rng.random() < cfg.transient_rate:
            status = self._rng.choice(cfg.transient_statuses)
            return FaultDecision(FaultKind.TRANSIENT, status)
        return FaultDecision(FaultKind.NONE)


def _selected(method: str, methods: tuple[str, ...]) -> bool:
    return not methods or method in methods


def _matches_operation(operation: str, patterns: tuple[str, ...]) -> bool:
    """Operation ids compare case-insensitively; a pattern may use ``*`` globs."""
    return not patterns or any(fnmatch.fnmatchcase(operation.lower(), p.lower()) for p in patterns)

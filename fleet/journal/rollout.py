"""The rollout as journaled (schema version 4): each batch's start and end and each health
gate's verdict, appended to ``rollout_events`` as it happens, and the pure fold of those events
back into what a resumed run and ``fleet show`` need — which batches started (and their zone /
fault-domain group), the gate verdicts so far, the error budget as of the last batch's end.

Events, one row each (``batch`` is the 1-based batch index)::

    BATCH_STARTED   detail: {"group": "zone 2" | null, "order": "zone", "targets": 5}
    BATCH_FINISHED  detail: the error budget then ({"max_errors", "failures", ...})
    GATE            detail: {"gate", "passed", "reason", "targets": [ids]}

A resumed run walks its batches again, so a batch may be journaled as started more than once;
the fold keeps one. Before version 4 nothing of this was journaled: a run from then has no
events and its readers fall back on the report written when it ended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from fleet.model import Batch, BatchRecord, GateRecord, RolloutRecord


class Kind(StrEnum):
    BATCH_STARTED = "BATCH_STARTED"
    BATCH_FINISHED = "BATCH_FINISHED"
    GATE = "GATE"


@dataclass(frozen=True)
class RolloutEvent:
    run_id: str
    seq: int  # per run, in write order
    at: datetime
    kind: Kind
    batch: int
    detail: Mapping[str, Any]


def batch_started_detail(batch: Batch, order: str) -> dict[str, Any]:
    return {"group": batch.group, "order": order, "targets": len(batch.targets)}


def gate_detail(record: GateRecord) -> dict[str, Any]:
    return {
        "gate": record.gate,
        "passed": record.passed,
        "reason": record.reason,
        "targets": list(record.target_ids),
    }


def _gate(event: RolloutEvent) -> GateRecord:
    d = event.detail
    targets = tuple(str(t) for t in d.get("targets") or ())
    passed, reason = bool(d.get("passed")), str(d.get("reason"))
    return GateRecord(str(d.get("gate")), event.batch, passed, reason, targets)


@dataclass(frozen=True)
class JournaledRollout:
    """What the events say: started batches (index → group), gate verdicts in the order they
    were given, the rollout order and the error budget as of the latest batch end."""

    started: Mapping[int, str | None] = field(default_factory=dict)
    gates: tuple[GateRecord, ...] = ()
    order: str | None = None
    budget: Mapping[str, Any] | None = None

    @property
    def empty(self) -> bool:
        return not self.started and not self.gates

    def record(self, batches: Mapping[int, Sequence[str]]) -> RolloutRecord:
        """A ``RolloutRecord`` for the batches of the plan (index → target ids)."""
        budget = self.budget or {}
        return RolloutRecord(
            order=self.order or "",
            batches=tuple(
                BatchRecord(i, self.started.get(i), tuple(ids), i in self.started)
                for i, ids in sorted(batches.items())
            ),
            gates=self.gates,
            max_errors=budget.get("max_errors"),
            script_failures=int(budget.get("failures") or 0),
            platform_failures=int(budget.get("platform_failures") or 0),
            count_platform_failures=bool(budget.get("count_platform_failures")),
        )


def fold(events: Sequence[RolloutEvent]) -> JournaledRollout:
    """The events of one run (any order; sorted by seq here) as a ``JournaledRollout``."""
    started: dict[int, str | None] = {}
    gates: list[GateRecord] = []
    order: str | None = None
    budget: Mapping[str, Any] | None = None
    for event in sorted(events, key=lambda e: e.seq):
        if event.kind is Kind.BATCH_STARTED:
            started.setdefault(event.batch, event.detail.get("group"))
            order = event.detail.get("order") or order
        elif event.kind is Kind.BATCH_FINISHED:
            budget = event.detail
        else:
            gates.append(_gate(event))
    return JournaledRollout(started, tuple(gates), order, budget)

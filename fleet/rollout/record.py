"""How a rollout went, for the report (pure): the planned batches with which of them started,
the gate verdicts and the error budget's counts. The engine's runner and the Temporal workflow
both report through it."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from fleet.model import GateRecord, RolloutPlan, RolloutRecord
from fleet.rollout.budget import ErrorBudget


def rollout_record(
    plan: RolloutPlan,
    started: Collection[int],
    gates: Sequence[GateRecord],
    budget: ErrorBudget,
) -> RolloutRecord:
    """``started``: the indexes of the batches the rollout began."""
    return RolloutRecord(
        order=plan.order.value,
        batches=tuple(b.record(started=b.index in started) for b in plan.batches),
        gates=tuple(gates),
        max_errors=budget.limit,
        script_failures=budget.failures,
        platform_failures=budget.platform,
        count_platform_failures=budget.count_platform,
    )

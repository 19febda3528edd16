"""Ground truth about run-command *executions* for tests and benchmarks (``/_sim/executions``):
one row per execution with what really happened, and the totals derived from them. Pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from fleet.sim.rc_provisioning import agent_failed
from fleet.sim.rc_state import ExecState, Execution, view


def execution_rows(executions: Iterable[Execution], now: float) -> list[dict[str, Any]]:
    """Every execution as of ``now``."""
    out = []
    for ex in executions:
        v = view(ex, now)
        out.append(
            {
                "target": ex.target,
                "run_command": ex.run_command,
                "seq": ex.seq,
                "created_at": ex.created_at,
                # the script itself ran (not merely picked up and refused: runAsUser)
                "started": v.started and ex.start_failure is None and not _blob_failed(ex),
                "state": str(v.state),
                "exit_code": v.exit_code,
                "canceled": v.state is ExecState.CANCELED,
                "outcome": ex.outcome,
                "agent_failed": agent_failed(ex, now),
            }
        )
    return out


def _blob_failed(ex: Execution) -> bool:
    """The handler could not create an output blob, so the script never ran."""
    return ex.blobs is not None and ex.blobs.failure is not None


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals by state, plus executions and started executions per target and name."""
    executed: dict[str, Counter[str]] = {}
    for row in rows:
        if row["started"]:
            executed.setdefault(row["target"], Counter())[row["run_command"]] += 1
    return {
        "executions": len(rows),
        "started": sum(r["started"] for r in rows),
        "never_started": sum(not r["started"] for r in rows),
        "canceled": sum(r["canceled"] for r in rows),
        "by_state": dict(Counter(r["state"] for r in rows)),
        "executions_per_target": dict(Counter(r["target"] for r in rows)),
        "executed_per_target": {t: dict(c) for t, c in executed.items()},
    }

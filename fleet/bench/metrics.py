"""One result row per contender, from what the contender says and what the emulator knows.

Conventions (see bench/README.md): every time is Azure-equivalent seconds (wall x time scale);
``targets = completed + lost + not_run`` and ``completed = succeeded + failed + skipped``;
requests and 429s are the emulator's ground truth (``/_sim/stats``), counted per attempted
target (``targets - not_run``); ``untruthful`` counts reported final states that disagree with the
emulator's record of what really ran.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from collections import Counter
from typing import Any

from fleet.bench.lower_bound import LowerBound
from fleet.bench.procs import Usage

PACKAGES = (
    "fleet",
    "azure-core",
    "azure-mgmt-core",
    "azure-mgmt-compute",
    "azure-mgmt-resource",
    "azure-mgmt-resourcegraph",
    "aiohttp",
    "anyio",
)
ROW_KEYS = (
    "name",
    "makespan_s",
    "lower_bound_s",
    "ratio",
    "targets",
    "completed",
    "succeeded",
    "failed",
    "skipped",
    "lost",
    "not_run",
    "untruthful",
    "executions_over_once",
    "throttled",
    "reads_per_target",
    "writes_per_target",
    "storage_requests_per_target",
    "cpu_s",
    "peak_rss_mb",
    "extrapolated",
    "measured_fraction",
    "wall_s",
)


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def _contradicts(category: str, ex: dict[str, Any] | None) -> bool:
    state = ex["state"] if ex else None
    if category == "succeeded":
        return state != "Succeeded"
    if category == "skipped":
        return ex is not None and bool(ex["started"])
    if category == "failed":
        return state in ("Succeeded", "Pending", "Running")
    return False  # "lost" claims nothing


def untruthful(outcomes: dict[str, list[str]], executions: list[dict[str, Any]]) -> int:
    """Reported final states that contradict the emulator's ground truth."""
    truth: dict[str, dict[str, Any]] = {}
    for ex in executions:  # in creation order: the last execution per target wins
        truth[str(ex["target"]).lower()] = ex
    return sum(_contradicts(category, truth.get(t)) for t, (category, _) in outcomes.items())


def over_once(executed_per_target: dict[str, dict[str, int]]) -> tuple[int, int]:
    """(executions beyond the first per target, all started executions)."""
    counts = [sum(per.values()) for per in executed_per_target.values()]
    return sum(max(0, n - 1) for n in counts), sum(counts)


def makespan(
    elapsed_wall: float, finished: bool, done: int, targets: int, time_scale: float
) -> tuple[float | None, bool, float]:
    """(Azure-equivalent makespan, extrapolated?, measured fraction of the targets).

    A contender stopped at its budget is extrapolated linearly from its measured throughput:
    ``elapsed * targets / done``. Every contender here keeps a constant concurrency, so its
    throughput is steady after the first batch and the linear rule is fair (it slightly flatters
    a contender whose first targets were faster than the rest)."""
    measured = done / targets if targets else 1.0
    if finished:
        return elapsed_wall * time_scale, False, 1.0
    if done <= 0:
        return None, True, 0.0
    return elapsed_wall * time_scale * targets / done, True, measured


def _scaled(wall: float | None, time_scale: float) -> float | None:
    return None if wall is None else round(wall * time_scale, 1)


def _outcome_figures(outcomes: dict[str, list[str]], targets: int) -> dict[str, int]:
    cats = Counter(category for category, _ in outcomes.values())
    return {
        "targets": targets,
        "completed": cats["succeeded"] + cats["failed"] + cats["skipped"],
        "succeeded": cats["succeeded"],
        "failed": cats["failed"],
        "skipped": cats["skipped"],
        "lost": cats["lost"],
        "not_run": targets - len(outcomes),
    }


def _request_figures(stats: dict[str, Any], attempted: int) -> dict[str, Any]:
    kinds = stats.get("kinds", {})
    reads, writes = int(kinds.get("reads", 0)), int(kinds.get("writes", 0))
    return {
        "throttled": int(stats.get("throttled_total", 0)),
        "reads": reads,
        "writes": writes,
        "reads_per_target": round(reads / max(1, attempted), 2),
        "writes_per_target": round(writes / max(1, attempted), 2),
    }


def contender_row(
    output: dict[str, Any],
    usage: Usage,
    stats: dict[str, Any],
    executions: dict[str, Any],
    target_ids: list[str],
    bound: LowerBound,
    time_scale: float,
) -> dict[str, Any]:
    ids = {t.lower() for t in target_ids}
    outcomes = {t: o for t, o in output["outcomes"].items() if t in ids}
    done = len(outcomes) or int(output.get("progress_done") or 0)
    span, extrapolated, fraction = makespan(
        output["elapsed_s"], bool(output["finished"]), done, len(ids), time_scale
    )
    extra, executed = over_once(executions.get("executed_per_target", {}))
    return {
        "name": output["contender"],
        "makespan_s": None if span is None else round(span, 1),
        "lower_bound_s": round(bound.lower_bound_s, 1),
        "ratio": None if span is None else round(span / bound.lower_bound_s, 2),
        **_outcome_figures(outcomes, len(ids)),
        "untruthful": untruthful(outcomes, executions.get("executions", [])),
        "executions_over_once": extra,
        "executions": executed,
        **_request_figures(stats, done),
        "storage_requests_per_target": _storage_per_target(output, done),
        "cpu_s": usage.cpu_s,
        "peak_rss_mb": usage.peak_rss_mb,
        "extrapolated": extrapolated,
        "measured_fraction": round(fraction, 4),
        "wall_s": round(output["elapsed_s"], 1),
        "selection_s": _scaled(output.get("selection_wall_s"), time_scale),
        "lost_reasons": _lost_reasons(outcomes),
        "killed": usage.killed,
    }


def _storage_per_target(output: dict[str, Any], attempted: int) -> float | None:
    """Requests to the output container per attempted target (None: no output storage)."""
    count = output.get("storage_requests")
    return None if count is None else round(int(count) / max(1, attempted), 2)


def _lost_reasons(outcomes: dict[str, list[str]]) -> dict[str, int]:
    return dict(Counter(r for c, r in outcomes.values() if c == "lost").most_common(5))


def bound_row(bound: LowerBound, name: str = "lower bound") -> dict[str, Any]:
    """The lower bound as a pseudo-contender (figures that do not apply are null)."""
    row: dict[str, Any] = dict.fromkeys(ROW_KEYS)
    row.update(
        name=name,
        makespan_s=round(bound.lower_bound_s, 1),
        lower_bound_s=round(bound.lower_bound_s, 1),
        ratio=1.0,
        targets=bound.targets,
        completed=bound.targets,
        skipped=bound.targets - bound.puts,
        lost=0,
        not_run=0,
        executions_over_once=0,
        throttled=0,
        writes_per_target=round(bound.puts / max(1, bound.targets), 2),
        extrapolated=False,
        measured_fraction=1.0,
    )
    return row

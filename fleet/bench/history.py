"""The ``history`` contender: fleet run twice on one emulator, the same job, with a journal —
the first run blind to durations (a new job), the second planned with the first's run times
(each batch longest-expected first, each target read when it should be done). Issue #16.

Each run is its own client process (its own CPU time and peak RSS). Between them the harness
waits until every write and read bucket of the profile is full again (as the first run found
them), so the second run meets the same limits, not the first run's leftovers. The second
run's scripts are the emulator's second executions per VM: similar times per VM (the
profile's ``per_vm`` share), fresh noise on top; its lower bound is computed from those.
Emulator ground truth is cumulative, so the second run's row is the difference of two reads.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

from fleet.bench.lower_bound import LowerBound
from fleet.bench.metrics import contender_row
from fleet.bench.procs import EmulatorProcess, run_contender
from fleet.bench.scenario import Scenario
from fleet.sim.profile import Profile
from fleet.sim.world import arm_limits, compute_policies

FIRST, SECOND = "history (1st run)", "history (2nd run)"


def refill_s(profile: Profile) -> float:
    """Azure-seconds until every ARM and Compute bucket the profile sets is full again from
    empty (Compute's refill whole-minute steps, plus one minute to reach a step)."""
    arm = arm_limits(profile)
    longest = max(cap / rate for cap, rate in (arm.reads, arm.writes, arm.deletes))
    for policy in compute_policies(profile).values():
        steps = math.ceil(policy.sub_cap / policy.sub_refill_per_min)
        longest = max(longest, 60.0 * (steps + 1))
    return longest


def _truth(emu: EmulatorProcess) -> dict[str, Any]:
    return {"stats": emu.truth("stats"), "executions": emu.truth("executions")}


def _since(after: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    """Ground truth of what happened between two reads (``before`` None: since the start)."""
    if before is None:
        return after
    stats, old = after["stats"], before["stats"]
    kinds = Counter(stats.get("kinds", {}))
    kinds.subtract(old.get("kinds", {}))
    delta_stats = {
        "kinds": dict(kinds),
        "throttled_total": stats.get("throttled_total", 0) - old.get("throttled_total", 0),
    }
    executed = {}
    old_executed = before["executions"].get("executed_per_target", {})
    for target, per in after["executions"].get("executed_per_target", {}).items():
        left = Counter(per)
        left.subtract(old_executed.get(target, {}))
        executed[target] = {k: v for k, v in left.items() if v > 0}
    executions = {**after["executions"], "executed_per_target": executed}
    return {"stats": delta_stats, "executions": executions}


def run_history(
    scenario: Scenario,
    profile: Profile,
    bounds: tuple[LowerBound, LowerBound],
    workdir: Path,
    config: Any,
) -> list[dict[str, Any]]:
    """Both runs' rows; ``config(scenario, name, info, targets)`` builds a contender config."""
    rows: list[dict[str, Any]] = []
    state_dir = workdir / "history-state"
    with EmulatorProcess(
        scenario.profile, scenario.time_scale, scenario.seed, scenario.throttle_headers
    ) as emu:
        targets = [t["id"] for t in emu.truth("inventory")["targets"]]
        before: dict[str, Any] | None = None
        for run, (name, bound) in enumerate(zip((FIRST, SECOND), bounds, strict=True)):
            if run:
                time.sleep(refill_s(profile) / scenario.time_scale)
            cfg = {**config(scenario, "history", emu.info, []), "state_dir": str(state_dir)}
            output, usage = run_contender(cfg, workdir, scenario.budget("history") + 60.0)
            after = _truth(emu)
            truth = _since(after, before)
            row = contender_row(
                output, usage, truth["stats"], truth["executions"], targets, bound,
                scenario.time_scale,
            )  # fmt: skip
            row.update(name=name, budget_s=scenario.budget("history"))
            row["history_runs"] = output.get("history_runs")
            rows.append(row)
            before = after
    rows[0]["emulator_cpu_s"] = rows[1]["emulator_cpu_s"] = emu.usage.cpu_s if emu.usage else None
    first, second = rows[0]["makespan_s"], rows[1]["makespan_s"]
    rows[1]["vs_first_run"] = round(second / first, 2) if first and second else None
    return rows

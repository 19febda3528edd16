"""Runs one benchmark scenario: the lower bound from the profile, then each contender on its own
fresh emulator process (same profile, seed and time scale) in its own client process; writes
``<results dir>/<scenario>.json`` and returns the result document.

Where results go by default: ``bench/results/`` of the source checkout fleet is imported from
(an editable install, ``make bench``), where the committed results live. An installed fleet (a
wheel) has no such place and no default: the caller must name a directory (``fleet bench
--results-dir``), so a benchmark never drops files into whatever directory it was started from.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fleet
from fleet.bench.budget_left import left_bound
from fleet.bench.lower_bound import LowerBound, lower_bound
from fleet.bench.metrics import bound_row, contender_row, machine, versions
from fleet.bench.procs import SIM_TOKEN, EmulatorProcess, run_contender
from fleet.bench.scenario import Scenario
from fleet.sim import catalog

CHECKOUT = Path(fleet.__file__).resolve().parents[1]  # the source checkout, if it is one
DEADLINE_GRACE_S = 60.0  # past its budget a contender has this long to stop by itself


#: The fleet-action contender is measured against the bound of action run commands.
ACTION_BOUND = "action"


def default_results_dir(checkout: Path | None = None) -> Path | None:
    """``bench/results`` of the source checkout fleet runs from; None for an installed fleet."""
    checkout = checkout or CHECKOUT
    results = checkout / "bench" / "results"
    if (checkout / "pyproject.toml").is_file() and results.is_dir():
        return results
    return None


def _relative(ref: str) -> str:
    """A path as the checkout sees it (results stay comparable across machines); names as is."""
    if catalog.is_name(ref):
        return ref
    try:
        return str(Path(ref).resolve().relative_to(CHECKOUT))
    except ValueError:
        return ref


def contender_config(
    scenario: Scenario, name: str, info: dict[str, Any], targets: list[dict[str, Any]]
) -> dict[str, Any]:
    job = scenario.job
    return {
        "contender": name,
        "endpoint": info["endpoint"],
        "ca_cert": info["ca_cert"],
        "subscriptions": info["subscriptions"],
        "token": SIM_TOKEN,
        "time_scale": scenario.time_scale,
        "budget_s": scenario.budget(name),
        "job": {
            "name": job.name,
            "script": job.script,
            "timeout": job.timeout,
            "run_command": f"bench-{job.name}",
        },
        # The SDK baselines get the target list for free (fleet selects its own, and pays for it).
        "targets": [] if name.startswith("fleet") else targets,
        "storage": info.get("storage") if name == "fleet-storage" else None,
    }


def run_one(scenario: Scenario, name: str, bound: LowerBound, workdir: Path) -> dict[str, Any]:
    """One contender on a fresh emulator; its result row."""
    profile, azurite = scenario.profile, name == "fleet-storage"
    with EmulatorProcess(
        profile, scenario.time_scale, scenario.seed, scenario.throttle_headers, azurite=azurite
    ) as emu:
        targets = emu.truth("inventory")["targets"]
        config = contender_config(scenario, name, emu.info, targets)
        deadline = scenario.budget(name) + DEADLINE_GRACE_S
        if scenario.background is not None:
            emu.truth("background", scenario.background)  # its loads start now
            loads_started = time.time()
        output, usage = run_contender(config, workdir, deadline)
        stats, executions = emu.truth("stats"), emu.truth("executions")
        background = emu.truth("background") if scenario.background is not None else None
    row = contender_row(
        output, usage, stats, executions, [t["id"] for t in targets], bound, scenario.time_scale
    )
    row["budget_s"] = scenario.budget(name)
    row["emulator_cpu_s"] = emu.usage.cpu_s if emu.usage else None
    if background is not None:
        row.update(_budget_left(scenario, output, row, loads_started, background))
    return row


def _budget_left(
    scenario: Scenario,
    output: dict[str, Any],
    row: dict[str, Any],
    loads_started: float,
    background: dict[str, Any],
) -> dict[str, Any]:
    """The bound for the budget the background left, and what the background met."""
    assert scenario.background is not None
    held_s = max(0.0, output.get("started_unix", loads_started) - loads_started)
    held_s *= scenario.time_scale
    left = left_bound(
        catalog.load(scenario.profile), scenario.seed, scenario.job.timeout,
        scenario.job.script, scenario.background, held_s,
    )  # fmt: skip
    span = row["makespan_s"]
    return {
        "left_bound_s": round(left.lower_bound_s, 1),
        "left_ratio": None if span is None else round(span / left.lower_bound_s, 2),
        "left_binding_bucket": left.binding_bucket,
        "loads_held_s": round(held_s, 1),
        "background": background.get("loads"),
    }


def run_scenario(
    scenario: Scenario,
    *,
    contenders: Sequence[str] | None = None,
    results_dir: Path,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run ``scenario`` (all its contenders unless ``contenders`` is given); write its JSON."""
    started, t0 = datetime.now(UTC), time.monotonic()
    chosen = list(contenders or scenario.contenders)
    bounds = _bounds(scenario, action="fleet-action" in chosen)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        for name in chosen:
            bound = bounds[ACTION_BOUND if name == "fleet-action" else "managed"]
            rows.append(run_one(scenario, name, bound, Path(tmp)))
            if on_row is not None:
                on_row(rows[-1])
    rows.append(bound_row(bounds["managed"]))
    if ACTION_BOUND in bounds:
        rows.append(bound_row(bounds[ACTION_BOUND], name="lower bound (action)"))
    document = result_document(scenario, bounds, rows, started, time.monotonic() - t0)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{scenario.name}.json"
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    document["path"] = str(path)
    return document


def _bounds(scenario: Scenario, *, action: bool) -> dict[str, LowerBound]:
    """The scenario's lower bound for managed run commands, and for action ones if asked."""
    profile = catalog.load(scenario.profile)
    job = scenario.job
    found = {"managed": lower_bound(profile, scenario.seed, job.timeout, job.script)}
    if action:
        found[ACTION_BOUND] = lower_bound(
            profile, scenario.seed, job.timeout, job.script, action=True
        )
    return found


def result_document(
    scenario: Scenario,
    bounds: dict[str, LowerBound],
    rows: list[dict[str, Any]],
    started: datetime,
    wall_s: float,
) -> dict[str, Any]:
    return {
        "scenario": {
            "name": scenario.name,
            "description": scenario.description,
            "file": _relative(scenario.source),
            "profile": _relative(scenario.profile),
            "seed": scenario.seed,
            "job": scenario.job.model_dump(),
            "budgets_wall_s": scenario.budgets.model_dump(),
            "throttle_headers": scenario.throttle_headers,
            "background": scenario.background,
        },
        "machine": machine(),
        "versions": versions(),
        "time_scale": scenario.time_scale,
        "units": "Azure-equivalent seconds (wall seconds x time_scale) unless named *_wall_s",
        "lower_bound": bounds["managed"].as_dict(),
        **{f"lower_bound_{k}": b.as_dict() for k, b in bounds.items() if k != "managed"},
        "contenders": rows,
        "started_at": started.isoformat(timespec="seconds"),
        "bench_wall_s": round(wall_s, 1),
    }

"""One contender run, in its own process: ``python -m fleet.bench.contenders CONFIG.json OUT.json``.

The harness starts this module once per contender so that CPU time and peak RSS are the
contender's own (the parent reads them with ``os.wait4``). CONFIG names the contender, the
emulator (endpoint, CA, subscriptions, token), the time scale, the job, the wall-clock budget and,
for the SDK baselines, the target list. OUT receives::

    {"contender", "elapsed_s" (wall), "finished" (false: stopped at the budget),
     "outcomes": {target id (lower case): [category, reason]}, "started_unix",
     "storage_requests" (fleet-storage: requests to its output container)}

Categories: succeeded, failed (a truthful non-success: script failed, timed out, refused),
skipped (truthfully not run: VM not running), lost (no truthful final state). Targets missing
from ``outcomes`` were never finished (cut off by the budget).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleet.bench import baselines
from fleet.model import (
    Completion,
    JobSpec,
    Mode,
    OutputSpec,
    OutputStorage,
    ScriptSource,
    ScriptSpec,
    Secret,
    Selector,
    SourceKind,
)

STORAGE_CONTAINER = "bench-output"

FLEET_CATEGORY = {
    "Succeeded": "succeeded",
    "Failed": "failed",
    "TimedOut": "failed",
    "Canceled": "failed",
    "AccessDenied": "failed",
    "NotFound": "failed",
    "Conflict": "failed",
    "Wedged": "failed",
    "Skipped": "skipped",
    "ThrottledOut": "lost",
    "Error": "lost",
    "NotStarted": "lost",
}

Record = Callable[[str, str, str], None]


async def run_fleet(
    cfg: dict[str, Any], record: Record, progress: dict[str, Any], *, mode: str = "managed"
) -> None:
    """fleet with default settings, through the library API, on the Azure backend; ``mode``:
    managed run commands, or the action run command (``fleet-action``). With a ``storage``
    account in the config (fleet-storage): full outputs in its container and ``completion:
    storage``."""
    from fleet import api
    from fleet.azure.backend import ConnectionSettings, azure_backend

    settings = ConnectionSettings(
        arm_endpoint=cfg["endpoint"],
        ca_cert=cfg["ca_cert"],
        token=Secret(cfg["token"]),
        subscriptions=tuple(cfg["subscriptions"]),
        time_scale=cfg["time_scale"],
    )

    class Done(api.RunObserver):
        def progress(self, p: Any) -> None:
            progress["done"] = p.done

    spec, outputs = _fleet_job(cfg, Mode(mode))
    async with azure_backend(settings, outputs=outputs) as backend:
        # Same as run_async(spec, backend) alone; selecting first only times the selection.
        started = time.monotonic()
        selected = await api.select(spec, backend)
        progress["selection_wall_s"] = time.monotonic() - started
        plan = await api.prepare(spec, backend, targets=selected)
        report = await api.run_async(plan, backend, observer=Done())
    for r in report.results:
        record(r.target.id, FLEET_CATEGORY.get(str(r.status), "lost"), str(r.status))
    if report.storage is not None:
        progress["storage_requests"] = report.storage.total


def _fleet_job(cfg: dict[str, Any], mode: Mode) -> tuple[JobSpec, Any]:
    """The bench job as a JobSpec in ``mode``, and how its output container is opened
    (fleet-storage)."""
    job, storage = cfg["job"], cfg.get("storage")
    output, outputs = None, None
    if storage:
        from fleet.storage.factory import output_store_factory

        where = OutputStorage(storage["account_url"], STORAGE_CONTAINER)
        output = OutputSpec(where, keep_days=None, completion=Completion.STORAGE)
        outputs = lambda _credential: output_store_factory(  # noqa: E731
            ca_cert=storage["ca_cert"], create_container=True
        )
    spec = JobSpec(
        name=job["name"],
        selector=Selector(),  # every VM and scale-set instance of the subscriptions
        script=ScriptSpec(
            default=ScriptSource(SourceKind.INLINE, job["script"]), timeout_s=job["timeout"]
        ),
        output=output,
        mode=mode,
    )
    return spec, outputs


async def run_baseline(cfg: dict[str, Any], record: Record, limit: int | None) -> None:
    conn = baselines.connection(cfg["endpoint"], cfg["ca_cert"], cfg["token"])
    await baselines.fan_out(
        conn,
        cfg["targets"],
        cfg["job"],
        time_scale=cfg["time_scale"],
        limit=limit,
        record=record,
    )


async def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run the configured contender under its wall-clock budget; never raises on a slow run."""
    outcomes: dict[str, list[str]] = {}
    progress: dict[str, Any] = {}

    def record(target_id: str, category: str, reason: str) -> None:
        outcomes[target_id.lower()] = [category, reason]

    name = cfg["contender"]
    if name in ("fleet", "fleet-storage"):
        work = run_fleet(cfg, record, progress)
    elif name == "fleet-action":
        work = run_fleet(cfg, record, progress, mode="action")
    elif name == "documented":
        work = run_baseline(cfg, record, baselines.POWERSHELL_THROTTLE_LIMIT)
    elif name == "unbounded":
        work = run_baseline(cfg, record, None)
    else:
        raise SystemExit(f"unknown contender {name!r}")
    started, started_unix = time.monotonic(), time.time()
    finished = True
    try:
        await asyncio.wait_for(work, timeout=cfg["budget_s"])
    except TimeoutError:
        finished = False
    elapsed = time.monotonic() - started
    return {
        "contender": name,
        "elapsed_s": elapsed,
        "finished": finished,
        "outcomes": outcomes,
        # fleet reports per-target results only at the end; its progress count survives a cut-off
        "progress_done": progress.get("done"),
        "selection_wall_s": progress.get("selection_wall_s"),
        "started_unix": started_unix,  # when its makespan starts (the budget-left bound's t=0)
        "storage_requests": progress.get("storage_requests"),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m fleet.bench.contenders CONFIG.json OUT.json", file=sys.stderr)
        return 2
    cfg = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    from fleet.logs import configure

    configure("warning")  # what the CLI does by default; per-target info lines cost CPU
    result = asyncio.run(run(cfg))
    Path(argv[1]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

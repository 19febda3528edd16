"""Benchmark: fleet on Temporal with one worker, then two (``make bench-temporal``).

For each worker count, on fresh processes — a Temporal dev server (in memory), ``fleet sim
serve`` (same profile, seed and time scale), N ``fleet worker`` processes serving every
subscription — this process plans the job (selection is not timed), submits it as a run
workflow and waits for its report. Measured:

- makespan: submit → report (wall), and Azure-equivalent (x time scale); throughput;
- from the emulator's ground truth: 429s, requests, executions beyond the first per target
  (exactly once), targets whose script never ran though the report says it did;
- each worker's CPU seconds and peak RSS (``os.wait4`` after SIGTERM), the Temporal server's
  and the emulator's CPU seconds; the run workflow's history length (events) and activities.

Writes ``<results dir>/temporal-workers.json`` and prints a table. Never fails on speed.

    python -m fleet.temporal.bench [--profile bench-10k] [--time-scale 4] [--workers 1,2]

Time scale 4 (that of mixed-10k) by default. Before runs had parts (a child workflow per
subscription and pass), time scale 50 stalled: the four write queues complete ~190 launches a
second, far more than one workflow takes — the server force-closes its workflow tasks (more
than 100 events buffered meanwhile), each next one replays the whole history. The row counts
the run's own history and its parts'.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from temporalio.client import Client

from fleet.api.prepare import prepare
from fleet.azure.backend import ConnectionSettings, azure_backend
from fleet.bench.harness import default_results_dir
from fleet.bench.metrics import machine, over_once, versions
from fleet.bench.procs import SIM_TOKEN, EmulatorProcess, Usage, wait_bounded
from fleet.model import Secret
from fleet.spec.document import JobDocument
from fleet.spec.portable import portable
from fleet.temporal import names
from fleet.temporal.client import RunSettings, follow, submit
from fleet.temporal.connection import connect
from fleet.temporal.devserver import TemporalDevServer

JOB = "name: bench\ntargets: {all: true}\nscript: {inline: uptime, timeout: 900}\n"


@dataclass(frozen=True)
class Server:
    """The Temporal server a contender uses; its CPU is measured when its ``pid`` is known."""

    target: str
    namespace: str = "default"
    pid: int | None = None


def _worker(server: Server, emu: dict[str, Any], time_scale: float) -> subprocess.Popen[str]:
    subs = [a for s in emu["subscriptions"] for a in ("--subscription", s)]
    cmd = [
        sys.executable, "-m", "fleet.cli.main", "worker", "--temporal", server.target,
        "--namespace", server.namespace,
        "--arm-endpoint", emu["endpoint"], "--ca-cert", emu["ca_cert"],
        "--time-scale", f"{time_scale:g}", *subs,
    ]  # fmt: skip
    env = {**os.environ, "FLEET_ACCESS_TOKEN": SIM_TOKEN}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    assert proc.stdout is not None
    if not proc.stdout.readline().startswith('{"worker"'):
        raise RuntimeError("a fleet worker did not start")
    return proc


def _cpu_of(pid: int) -> float | None:
    """CPU seconds (user + system) of a live process (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _run(server: Server, emu: dict[str, Any], time_scale: float) -> dict[str, Any]:
    """Plan (untimed), submit and follow one run; what it took."""
    client = await connect(server.target, server.namespace)
    settings = ConnectionSettings(
        arm_endpoint=emu["endpoint"], ca_cert=emu["ca_cert"], token=Secret(SIM_TOKEN),
        subscriptions=tuple(emu["subscriptions"]), time_scale=time_scale,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(JOB)
        document = JobDocument(str(path), tmp, text=JOB)
        job = portable(document)
        spec = job.job_spec()
    async with azure_backend(settings) as backend:
        plan = await prepare(spec, backend)
    started = time.monotonic()
    handle = await submit(client, plan, job, RunSettings(time_scale, heartbeat_s=30.0))
    report = await follow(handle)
    elapsed = time.monotonic() - started
    events = await _history_counts(client, handle.id)
    return {"elapsed_s": elapsed, "report": report, "events": dict(events), "run_id": plan.run_id}


async def _history_counts(client: Client, run_workflow_id: str) -> Counter[str]:
    """The run workflow's history length, and over it and its parts (child workflows): the
    parts, their longest history, the activities, the workflow tasks lost (failed or timed
    out)."""
    events = Counter[str]()
    pending = [run_workflow_id]
    while pending:
        workflow_id = pending.pop()
        length = 0
        async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
            length += 1
            if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
                pending.append(
                    event.start_child_workflow_execution_initiated_event_attributes.workflow_id
                )
                events["parts"] += 1
            events["activities"] += event.HasField("activity_task_scheduled_event_attributes")
            events["workflow_tasks_lost"] += event.HasField(
                "workflow_task_failed_event_attributes"
            ) or event.HasField("workflow_task_timed_out_event_attributes")
        if workflow_id == run_workflow_id:
            events["events"] = length
        else:
            events["part_events_max"] = max(events["part_events_max"], length)
    return events


def one(
    workers: int, profile: str, time_scale: float, seed: int, server: Server | None = None
) -> dict[str, Any]:
    """One contender: ``workers`` workers on fresh processes, a fresh emulator and a fresh
    Temporal dev server (or ``server``); its result row."""
    if server is not None:
        return _contend(workers, profile, time_scale, seed, server)
    with tempfile.TemporaryDirectory() as tmp, TemporalDevServer(Path(tmp)) as info:
        own = Server(info.target, pid=info.process.pid)
        return _contend(workers, profile, time_scale, seed, own)


def _contend(
    workers: int, profile: str, time_scale: float, seed: int, server: Server
) -> dict[str, Any]:
    with EmulatorProcess(profile, time_scale, seed) as emu:
        procs = [_worker(server, emu.info, time_scale) for _ in range(workers)]
        pids = [server.pid, *(p.pid for p in procs)]
        before = [_cpu(pid) for pid in pids]  # started, idle: not the run's
        try:
            ran = anyio.run(_run, server, emu.info, time_scale)
        finally:
            spent = [_cpu(pid) - b for pid, b in zip(pids, before, strict=True)]
            usages = [_stop(p) for p in procs]
        stats, executions = emu.truth("stats"), emu.truth("executions")
    temporal_cpu = None if server.pid is None else spent[0]
    return _row(
        workers, ran, usages, spent[1:], temporal_cpu, (stats, executions), time_scale, emu.usage
    )


def _cpu(pid: int | None) -> float:
    return 0.0 if pid is None else (_cpu_of(pid) or 0.0)


def _stop(proc: subprocess.Popen[str]) -> Usage:
    proc.terminate()
    usage = wait_bounded(proc, 60.0)
    if proc.stdout is not None:
        proc.stdout.close()
    return usage


def _row(
    workers: int, ran: dict[str, Any], usages: list[Usage], run_cpu: list[float],
    temporal_cpu: float | None, truth: tuple[dict[str, Any], dict[str, Any]],
    time_scale: float, emulator: Usage | None,
) -> dict[str, Any]:  # fmt: skip
    """``run_cpu``, ``temporal_cpu``: CPU seconds of each worker and of the Temporal server
    (None: not measured) during the run; ``truth``: the emulator's stats and executions."""
    stats, executions = truth
    report = ran["report"]
    statuses = Counter(r.status.value for r in report.results)
    launched = statuses["Succeeded"] + statuses["Failed"]
    extra, executed = over_once(executions.get("executed_per_target", {}))
    wall = ran["elapsed_s"]
    return {
        "workers": workers, "targets": len(report.results), "ended": report.ended,
        "statuses": dict(statuses), "makespan_wall_s": round(wall, 1),
        "makespan_s": round(wall * time_scale, 1),
        "targets_per_wall_s": round(launched / wall, 1),
        "throttled": int(stats.get("throttled_total", 0)),
        "requests": dict(stats.get("kinds", {})), "executions": executed,
        "executions_over_once": extra, "never_ran": launched - executed + extra,
        "worker_run_cpu_s": [round(c, 1) for c in run_cpu],
        "worker_cpu_s": [u.cpu_s for u in usages],
        "worker_peak_rss_mb": [u.peak_rss_mb for u in usages],
        "worker_cpu_s_per_target": round(sum(run_cpu) / max(1, launched), 5),
        "temporal_cpu_s": None if temporal_cpu is None else round(temporal_cpu, 1),
        "emulator_cpu_s": None if emulator is None else emulator.cpu_s,
        "history_events": ran["events"].get("events"),
        "parts": ran["events"].get("parts", 0),
        "part_history_events_max": ran["events"].get("part_events_max", 0),
        "activities": ran["events"].get("activities"),
        "workflow_tasks_lost": ran["events"].get("workflow_tasks_lost", 0),
        "launch_chunk": names.LAUNCH_CHUNK, "run_id": ran["run_id"],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fleet.temporal.bench", description=__doc__)
    parser.add_argument("--profile", default="bench-10k")
    parser.add_argument("--time-scale", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=10000)
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--results-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    results_dir = args.results_dir or default_results_dir()
    if results_dir is None:
        print("--results-dir is required outside a source checkout", file=sys.stderr)
        return 2
    rows = []
    for count in (int(n) for n in args.workers.split(",")):
        rows.append(one(count, args.profile, args.time_scale, args.seed))
        print(json.dumps(rows[-1]), flush=True)
    document = {
        "benchmark": "temporal-workers", "profile": args.profile, "time_scale": args.time_scale,
        "seed": args.seed, "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(), "versions": versions(), "rows": rows,
    }  # fmt: skip
    out = Path(results_dir) / "temporal-workers.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"written to {out}")
    sys.stdout.flush()
    os._exit(0)  # the Temporal client's threads and the interpreter teardown (see the CLI)


if __name__ == "__main__":
    raise SystemExit(main())

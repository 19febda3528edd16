"""A run's life around the engine, shared by a new run and a resumed one: the observer hears
it start, the engine runs the plan, the report is put together from what happened, the end is
journaled (with the report ``fleet show`` gives back) and the observer hears it end. The
journal writer is closed on every way out; a run that did not reach its end stays resumable.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import anyio
import structlog

from fleet.engine.outputs import RunOutputs
from fleet.engine.reboot import PendingReboot
from fleet.engine.runner import EngineSettings, Runner
from fleet.journal.recorder import recording
from fleet.journal.records import PlannedTarget
from fleet.journal.store import Journal
from fleet.journal.writer import RunWriter
from fleet.model import GateRecord, RunPlan, RunReport, Status, TargetResult
from fleet.ports import Backend, Recorder, RunObserver
from fleet.report.json_report import report_to_dict
from fleet.rollout.control import RunControl
from fleet.util.gc_policy import fewer_collections

log = structlog.get_logger("fleet")


@dataclass(frozen=True)
class Resumed:
    """What a resumed run already has: results final before the crash (``done``; they spend
    the error budget again unless ``count_done`` is off, as when going on past a halt), the
    targets launched before it (lower-cased id → whether the PUT's arrival is ambiguous), what
    their launch answered where it was journaled (``handles``: lower-cased id → an action run
    command's operation), those it was rebooting (lower-cased id → what the journal knows of
    the reboot), the gate verdicts of the run so far and the batches it had started."""

    done: Sequence[TargetResult] = ()
    reattach: Mapping[str, bool] = field(default_factory=dict)
    handles: Mapping[str, str] = field(default_factory=dict)
    rebooting: Mapping[str, PendingReboot] = field(default_factory=dict)
    count_done: bool = True
    gates: Sequence[GateRecord] = ()
    started: frozenset[int] = frozenset()


async def begin(journal: Journal, plan: RunPlan, recipe: Mapping[str, Any] | None) -> RunWriter:
    """Record the run and its planned targets (batch 0: skipped before launch), durably."""
    planned = [PlannedTarget(r.target, 0) for r in plan.skipped]
    planned += [PlannedTarget(t, b.index) for b in plan.rollout.batches for t in b.targets]
    start = functools.partial(journal.begin_run, plan.run_id, plan.spec, planned, recipe=recipe)
    return await anyio.to_thread.run_sync(start)


@contextlib.contextmanager
def closing(writer: RunWriter | None) -> Iterator[None]:
    """Close the writer on the way out; a run that did not reach ``end()`` stays resumable."""
    try:
        yield
    finally:
        if writer is not None:
            writer.close()


async def drive(
    plan: RunPlan,
    backend: Backend,
    *,
    started: datetime,
    writer: RunWriter | None,
    settings: EngineSettings | None,
    observer: RunObserver | None,
    control: RunControl | None,
    resumed: Resumed | None = None,
    outputs: RunOutputs | None = None,
) -> RunReport:
    """Run ``plan`` on the engine, from ``run_started`` to ``run_finished``, the collector
    paced for a run's heap (``fleet.util.gc_policy``)."""
    (observer or RunObserver()).run_started(plan)
    resumed = resumed or Resumed()
    with fewer_collections():
        async with _recorder(writer) as recorder:
            runner = Runner(
                plan, backend.commands_for(plan.spec.mode), observer=observer,
                arm_counters=backend.arm_counters,
                settings=settings or EngineSettings(time_scale=backend.time_scale),
                control=control, recorder=recorder, outputs=outputs, machines=backend.machines,
            )  # fmt: skip
            results = await runner.run(
                done=resumed.done, reattach=resumed.reattach, handles=resumed.handles,
                rebooting=resumed.rebooting, count_done=resumed.count_done,
                gates_before=resumed.gates, started_before=resumed.started,
            )  # fmt: skip
    report = finish_report(plan, started, results, runner, backend, resumed.gates)
    if writer is not None:
        end(writer, report)
    (observer or RunObserver()).run_finished(report)
    return report


@contextlib.asynccontextmanager
async def _recorder(writer: RunWriter | None) -> AsyncIterator[Recorder | None]:
    """The run's journal recorder (group commits: ``fleet.journal.committer``), committed in
    full when the run's engine is done; None without a journal."""
    if writer is None:
        yield None
        return
    async with recording(writer) as recorder:
        yield recorder


def finish_report(
    plan: RunPlan,
    started: datetime,
    results: list[TargetResult],
    runner: Runner,
    backend: Backend,
    gates_before: Sequence[GateRecord] = (),
) -> RunReport:
    order = {t.id.lower(): i for i, t in enumerate(plan.selected)}
    record = runner.record()
    record = replace(record, gates=(*gates_before, *record.gates))
    results.sort(key=lambda r: order.get(r.target.id.lower(), len(order)))  # selection order
    report = RunReport(
        run_id=plan.run_id,
        job=plan.spec.name,
        started_at=started,
        finished_at=datetime.now(UTC),
        results=tuple(results),
        arm=backend.arm_counters(),
        ended=runner.control.ended.value,
        ended_detail=runner.control.detail,
        rollout=record,
        simulated=backend.simulated,
        script=plan.spec.script.identities(),
        expect=plan.spec.expect,
        cleanup=plan.spec.rollout.cleanup.value,
        storage=None if runner.outputs is None else runner.outputs.counters(),
        reboot=plan.spec.rollout.reboot.mode.value,
    )
    log.info(
        "run.finished",
        ended=report.ended,
        run_id=plan.run_id,
        targets=len(results),
        succeeded=sum(r.status is Status.SUCCEEDED for r in results),
    )
    return report


def end(writer: RunWriter, report: RunReport) -> None:
    """The run's end in the journal, with the report ``fleet show`` gives back."""
    document = report_to_dict(report)
    writer.end(report.ended, document["summary"], document)

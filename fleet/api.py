"""The library API: ``run(spec, backend) -> RunReport`` (and ``run_async``), ``select``,
``plan`` (the rollout's batches, for showing and confirming before a run).

Everything a library user needs lives here or below; the CLI only wires a backend, renders
progress and writes the report. A backend bundles the ports: use
``fleet.azure.backend.azure_backend(...)`` for Azure (or the emulator), or in-memory fakes in
tests. To stop a run from outside (signals, a UI), pass a ``fleet.rollout.control.RunControl``
and call its ``interrupt()``, ``stop()`` or ``cancel()``.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import structlog

from fleet.engine.runner import EngineSettings, Runner
from fleet.errors import SpecError
from fleet.journal.recorder import JournalRecorder
from fleet.journal.records import PlannedTarget
from fleet.journal.store import Journal
from fleet.journal.writer import RunWriter
from fleet.model import (
    ArmCounters,
    JobSpec,
    Progress,
    RolloutPlan,
    RunReport,
    Selector,
    Status,
    Target,
    TargetResult,
)
from fleet.ports import RunCommands, TargetSource
from fleet.rollout.batches import plan_rollout
from fleet.rollout.control import RunControl
from fleet.rollout.gates import matches_sentinels
from fleet.secrets import Secrets, using

log = structlog.get_logger("fleet")


@dataclass
class Backend:
    """The ports a run needs, plus the ARM request counters of the connection."""

    targets: TargetSource
    run_commands: RunCommands
    arm_counters: Callable[[], ArmCounters] = ArmCounters
    time_scale: float = 1.0  # >1 only for an emulator running faster than Azure


def new_run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def needs_os(spec: JobSpec) -> bool:
    return spec.script.linux is not None or spec.script.windows is not None


def preflight(targets: Sequence[Target]) -> tuple[list[Target], list[TargetResult]]:
    """Split targets into runnable ones and ``Skipped (not running)`` — decided without a write."""
    runnable, skipped = [], []
    for target in targets:
        if (target.power_state or "running").lower() != "running":
            reason = f"not running (power state: {target.power_state})"
            skipped.append(TargetResult(target, Status.SKIPPED, reason=reason))
        else:
            runnable.append(target)
    return runnable, skipped


async def select(spec: JobSpec, backend: Backend) -> list[Target]:
    """The targets ``spec`` selects (bulk reads only, nothing written)."""
    return list(await backend.targets.select(spec.selector, need_os=needs_os(spec)))


def plan(spec: JobSpec, targets: Sequence[Target]) -> tuple[RolloutPlan, list[TargetResult]]:
    """The rollout's batches over the runnable ``targets``, and the preflight skips."""
    runnable, skipped = preflight(targets)
    return plan_rollout(runnable, spec.rollout), skipped


async def select_sentinels(spec: JobSpec, backend: Backend) -> list[Target]:
    """The sentinel targets the job's health gates name (bulk reads only); every gate's
    sentinels must match at least one VM, or the spec is refused before anything runs."""
    globs = tuple(g for gate in spec.rollout.gates for g in gate.sentinels)
    if not globs:
        return []
    selector = Selector(subscriptions=spec.selector.subscriptions, names=globs)
    found = list(await backend.targets.select(selector, need_os=True))
    for gate in spec.rollout.gates:
        if gate.sentinels and not any(matches_sentinels(t, gate.sentinels) for t in found):
            names = ", ".join(gate.sentinels)
            message = (
                f"{spec.source}: rollout.health_gate {gate.name!r}: sentinels {names} "
                "match no VM — fix the names or check the gate on the batch instead"
            )
            raise SpecError(message)
    return found


async def run_async(
    spec: JobSpec,
    backend: Backend,
    *,
    run_id: str | None = None,
    settings: EngineSettings | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    targets: Sequence[Target] | None = None,
    control: RunControl | None = None,
    journal: Journal | None = None,
    recipe: Mapping[str, Any] | None = None,
    on_started: Callable[[str], None] | None = None,
) -> RunReport:
    """Run ``spec``: select (unless ``targets`` given), preflight, plan the batches, launch
    batch by batch under the rollout policy, poll, report. ``control`` stops it from outside.

    With a ``journal``, the run and every per-target transition are recorded (the intent to
    PUT durably before the PUT), so ``fleet.resume.resume_async`` can finish it after a crash;
    ``recipe`` is stored with it to rebuild the spec then (see ``fleet.cli.durable``).
    ``on_started(run_id)`` is called once the run is recorded, before anything is launched.
    The spec's secrets are current while it runs (``fleet.secrets.using``): logs redact them."""
    with using(Secrets.from_spec(spec)):
        return await _run(
            spec, backend, run_id=run_id, settings=settings, on_progress=on_progress,
            targets=targets, control=control, journal=journal, recipe=recipe,
            on_started=on_started,
        )  # fmt: skip


async def _run(
    spec: JobSpec,
    backend: Backend,
    *,
    run_id: str | None,
    settings: EngineSettings | None,
    on_progress: Callable[[Progress], None] | None,
    targets: Sequence[Target] | None,
    control: RunControl | None,
    journal: Journal | None,
    recipe: Mapping[str, Any] | None,
    on_started: Callable[[str], None] | None,
) -> RunReport:
    run_id = run_id or new_run_id()
    started = datetime.now(UTC)
    settings = settings or EngineSettings(time_scale=backend.time_scale)
    log.info("run.started", run_id=run_id, job=spec.name)
    selected = list(targets) if targets is not None else await select(spec, backend)
    sentinels = await select_sentinels(spec, backend)
    rollout, skipped = plan(spec, selected)
    log.info(
        "run.selected",
        run_id=run_id,
        targets=len(selected),
        skipped=len(skipped),
        batches=len(rollout.batches),
    )
    writer = None
    if journal is not None:
        planned = [PlannedTarget(r.target, 0) for r in skipped]
        planned += [PlannedTarget(t, b.index) for b in rollout.batches for t in b.targets]
        begin = functools.partial(journal.begin_run, run_id, spec, planned, recipe=recipe)
        writer = await anyio.to_thread.run_sync(begin)
    if on_started is not None:  # after the journal has the run: it can be resumed from here
        on_started(run_id)
    with _closing(writer):
        runner = Runner(
            spec,
            backend.run_commands,
            run_id=run_id,
            settings=settings,
            on_progress=on_progress,
            arm_counters=backend.arm_counters,
            control=control,
            sentinels=sentinels,
            recorder=JournalRecorder(writer) if writer is not None else None,
        )
        results = await runner.run(rollout.targets, skipped, rollout)
        report = finish_report(run_id, spec, started, selected, results, runner, backend)
        if writer is not None:
            record_end(writer, report)
    return report


@contextlib.contextmanager
def _closing(writer: RunWriter | None) -> Iterator[None]:
    """Close the writer on the way out; a run that did not reach ``end()`` stays resumable."""
    try:
        yield
    finally:
        if writer is not None:
            writer.close()


def finish_report(
    run_id: str,
    spec: JobSpec,
    started: datetime,
    selected: Sequence[Target],
    results: list[TargetResult],
    runner: Runner,
    backend: Backend,
) -> RunReport:
    order = {t.id.lower(): i for i, t in enumerate(selected)}
    results.sort(key=lambda r: order.get(r.target.id.lower(), len(order)))  # selection order
    report = RunReport(
        run_id=run_id,
        job=spec.name,
        started_at=started,
        finished_at=datetime.now(UTC),
        results=tuple(results),
        arm=backend.arm_counters(),
        ended=runner.control.ended.value,
        ended_detail=runner.control.detail,
        rollout=runner.record(),
    )
    log.info(
        "run.finished",
        ended=report.ended,
        run_id=run_id,
        targets=len(results),
        succeeded=sum(r.status is Status.SUCCEEDED for r in results),
    )
    return report


def record_end(writer: RunWriter, report: RunReport) -> None:
    """The run's end in the journal, with the report ``fleet show`` gives back."""
    from fleet.report.json_report import report_to_dict

    document = report_to_dict(report)
    writer.end(report.ended, document["summary"], document)


def run(spec: JobSpec, backend: Backend, **kwargs: object) -> RunReport:
    """Synchronous wrapper of :func:`run_async` (starts its own event loop)."""

    async def main() -> RunReport:
        return await run_async(spec, backend, **kwargs)  # type: ignore[arg-type]

    return anyio.run(main)

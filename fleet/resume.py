"""Finishing a crashed run from its journal (``fleet resume``).

For every target the journal's latest transition decides (``fleet.journal.records``):
DONE → its recorded result; NOT_STARTED → launched as usual (in its original batch);
RUNNING → re-attached (polled, never PUT again); AMBIGUOUS (the intent to PUT is durable, the
outcome is not) → Azure is asked first, and the PUT is sent only if Azure proves the first one
never arrived. The same run id (the ``FLEET_RUN_ID`` parameter) is used, so Azure's answer is
matched to this run and an identical PUT would not execute twice anyway.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import anyio
import structlog

from fleet.api import Backend, _closing, finish_report, preflight, record_end, select_sentinels
from fleet.engine.runner import EngineSettings, Runner
from fleet.errors import SpecError
from fleet.journal.recorder import JournalRecorder
from fleet.journal.records import CRASHED, RUNNING, JournalTarget, LatestState, Phase
from fleet.journal.store import Journal
from fleet.journal.writer import RunWriter
from fleet.model import Batch, JobSpec, Progress, RolloutPlan, RunReport, TargetResult
from fleet.rollout.control import RunControl
from fleet.secrets import Secrets, using

log = structlog.get_logger("fleet")


def _plan(spec: JobSpec, planned: list[JournalTarget]) -> RolloutPlan:
    """The batches as journaled (batch 0 = skipped before launch, not part of the plan)."""
    by_batch: dict[int, list[JournalTarget]] = {}
    for jt in planned:
        if jt.batch > 0:
            by_batch.setdefault(jt.batch, []).append(jt)
    batches = tuple(
        Batch(index, None, tuple(jt.target for jt in sorted(rows, key=lambda r: r.order)))
        for index, rows in sorted(by_batch.items())
    )
    return RolloutPlan(spec.rollout.order, batches)


def _split(
    planned: list[JournalTarget],
    states: dict[str, LatestState],
    finals: dict[str, TargetResult],
) -> tuple[list[TargetResult], list[TargetResult], dict[str, bool]]:
    """(skipped before launch, done in the plan, re-attach map) from the journal."""
    skipped, done, reattach = [], [], {}
    for jt in planned:
        tid = jt.target.id
        state = states.get(tid)
        if jt.batch == 0:
            final = finals.get(tid)
            skipped.append(final if final is not None else preflight([jt.target])[1][0])
            continue
        if state is None or state.phase is Phase.NOT_STARTED:
            continue
        if state.phase is Phase.DONE:
            done.append(finals[tid])
        else:
            reattach[tid.lower()] = state.phase is Phase.AMBIGUOUS
    return skipped, done, reattach


async def resume_async(
    run_id: str,
    journal: Journal,
    spec: JobSpec,
    backend: Backend,
    *,
    settings: EngineSettings | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    control: RunControl | None = None,
    force: bool = False,
    writer: RunWriter | None = None,
) -> RunReport:
    """Finish ``run_id``. ``writer``: the run's writer if the caller took it already (to fail
    fast on a locked run before connecting to Azure); else it is taken here."""
    with using(Secrets.from_spec(spec)):
        return await _resume(
            run_id, journal, spec, backend, settings, on_progress, control, force, writer
        )


async def _resume(
    run_id: str,
    journal: Journal,
    spec: JobSpec,
    backend: Backend,
    settings: EngineSettings | None,
    on_progress: Callable[[Progress], None] | None,
    control: RunControl | None,
    force: bool,
    writer: RunWriter | None,
) -> RunReport:
    record = journal.run(run_id)
    if record.ended not in (RUNNING, CRASHED):
        message = (
            f"run {run_id} already ended ({record.ended}); there is nothing to resume. "
            f"To run its failed targets again: fleet rerun {run_id} --failed"
        )
        raise SpecError(message)
    if writer is None:
        writer = await anyio.to_thread.run_sync(
            functools.partial(journal.resume_run, run_id, spec, force=force)
        )
    with _closing(writer):
        planned = journal.targets(run_id)
        states = journal.target_states(run_id)
        skipped, done, reattach = _split(planned, states, journal.final_results(run_id))
        plan = _plan(spec, planned)
        log.info(
            "run.resumed",
            run_id=run_id,
            done=len(done) + len(skipped),
            reattach=len(reattach),
            remaining=len(plan.targets) - len(done) - len(reattach),
        )
        runner = Runner(
            spec,
            backend.run_commands,
            run_id=run_id,
            settings=settings or EngineSettings(time_scale=backend.time_scale),
            on_progress=on_progress,
            arm_counters=backend.arm_counters,
            control=control,
            sentinels=await select_sentinels(spec, backend),
            recorder=JournalRecorder(writer),
        )
        finals = {r.target.id.lower() for r in done} | {
            tid.lower() for tid, s in states.items() if s.phase is Phase.DONE
        }
        recorded = [r for r in (*done, *skipped) if r.target.id.lower() in finals]
        results = await runner.run(plan.targets, skipped, plan, done=recorded, reattach=reattach)
        selected = [jt.target for jt in planned]
        report = finish_report(run_id, spec, record.started_at, selected, results, runner, backend)
        record_end(writer, report)
    return report

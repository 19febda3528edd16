"""Finishing a crashed run from its journal (``fleet resume``).

For every target the journal's latest transition decides (``fleet.journal.records``):
DONE → its recorded result; NOT_STARTED → launched as usual (in its original batch);
RUNNING → re-attached (polled, never PUT again; an action run command through the operation
its POST answered, journaled with the accept); AMBIGUOUS (the intent to PUT is durable, the
outcome is not) → Azure is asked first, and the PUT is sent only if Azure proves the first one
never arrived. The same run id (the ``FLEET_RUN_ID`` parameter) is used, so Azure's answer is
matched to this run and an identical PUT would not execute twice anyway.
"""

from __future__ import annotations

import functools

import anyio
import structlog

from fleet.api.lifecycle import Resumed, closing, drive
from fleet.api.prepare import preflight, select_sentinels
from fleet.engine.runner import EngineSettings
from fleet.errors import SpecError
from fleet.journal.records import CRASHED, RUNNING, JournalTarget, LatestState, Phase
from fleet.journal.store import Journal
from fleet.journal.writer import RunWriter
from fleet.model import Batch, JobSpec, RolloutPlan, RunPlan, RunReport, TargetResult
from fleet.ports import Backend, RunObserver
from fleet.rollout.control import RunControl
from fleet.secrets import Secrets, using

log = structlog.get_logger("fleet")


def _batches(spec: JobSpec, planned: list[JournalTarget]) -> RolloutPlan:
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


def take_over(journal: Journal, run_id: str, spec: JobSpec, *, force: bool = False) -> RunWriter:
    """Check that ``run_id`` can be resumed with ``spec`` and take its writer lock — before
    connecting to Azure, so a locked or finished run fails fast. ``force``: take over a lock
    held by another host that cannot be proven dead from here."""
    ended = journal.run(run_id).ended
    if ended not in (RUNNING, CRASHED):
        message = (
            f"run {run_id} already ended ({ended}); there is nothing to resume. "
            f"To run its failed targets again: fleet rerun {run_id} --failed"
        )
        raise SpecError(message)
    return journal.resume_run(run_id, spec, force=force)


async def resume_async(
    run_id: str,
    journal: Journal,
    spec: JobSpec,
    backend: Backend,
    *,
    settings: EngineSettings | None = None,
    observer: RunObserver | None = None,
    control: RunControl | None = None,
    force: bool = False,
    writer: RunWriter | None = None,
) -> RunReport:
    """Finish ``run_id`` (``spec``: rebuilt from its recipe, ``fleet.spec.Recipe``).
    ``writer``: the run's writer if the caller took it already (:func:`take_over`)."""
    with using(Secrets.from_spec(spec)):
        if writer is None:
            take = functools.partial(take_over, journal, run_id, spec, force=force)
            writer = await anyio.to_thread.run_sync(take)
        with closing(writer):
            plan, resumed = await _journaled_plan(run_id, journal, spec, backend)
            started = journal.run(run_id).started_at
            return await drive(
                plan, backend, started=started, writer=writer, settings=settings,
                observer=observer, control=control, resumed=resumed,
            )  # fmt: skip


async def _journaled_plan(
    run_id: str, journal: Journal, spec: JobSpec, backend: Backend
) -> tuple[RunPlan, Resumed]:
    """The run's plan as journaled, and what it already did."""
    planned = journal.targets(run_id)
    states = journal.target_states(run_id)
    skipped, done, reattach = _split(planned, states, journal.final_results(run_id))
    plan = RunPlan(
        run_id=run_id,
        spec=spec,
        selected=tuple(jt.target for jt in planned),
        skipped=tuple(skipped),
        rollout=_batches(spec, planned),
        sentinels=tuple(await select_sentinels(spec, backend)),
    )
    log.info(
        "run.resumed", run_id=run_id, done=len(done) + len(skipped), reattach=len(reattach),
        remaining=len(plan.targets) - len(done) - len(reattach),
    )  # fmt: skip
    finals = {tid.lower() for tid, s in states.items() if s.phase is Phase.DONE}
    finals |= {r.target.id.lower() for r in done}
    recorded = [r for r in (*done, *skipped) if r.target.id.lower() in finals]
    handles = {tid.lower(): s.handle for tid, s in states.items() if s.handle is not None}
    return plan, Resumed(done=recorded, reattach=reattach, handles=handles)

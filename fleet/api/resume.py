"""Finishing a crashed run from its journal (``fleet resume``), or going on with a run a halt
stopped (``fleet resume --continue``).

For every target the journal's latest transition decides (``fleet.journal.records``):
DONE → its recorded result; NOT_STARTED → launched as usual (in its original batch);
RUNNING → re-attached (polled, never PUT again; an action run command through the operation
its POST answered, journaled with the accept); AMBIGUOUS (the intent to PUT is durable, the
outcome is not) → Azure is asked first, and the PUT is sent only if Azure proves the first one
never arrived; REBOOTING (its script finished and a restart was journaled) → the restart Azure
accepted is waited for, one of unknown fate is looked for in the VM's instance view first and
sent again only if Azure proves it never arrived (``fleet.engine.reboot``). The same run id
(the ``FLEET_RUN_ID`` parameter) is used, so Azure's answer is matched to this run and an
identical PUT would not execute twice anyway.

Going on past a halt (``Continuation(past_halt=True)``), after the operator has looked: a run
that ended halted by a gate or the error budget (or by its deadline, or canceled) takes its
``NotStarted`` targets up again in their batches; what finished stays finished and does not
spend the error budget again; a gate that tripped is not run again on its batch. Targets named
by ``exclude`` (name globs) that were not launched yet are reported ``Skipped`` instead.

Either way the report keeps the gate verdicts from before: they are journaled as they are
given (``fleet.journal.rollout``), so a gate that passed before a crash is neither checked
again nor lost from the final report; so are the batches started and their groups. (A run
journaled before schema version 4 has only the verdicts of the report written at its end.)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import structlog

from fleet.api.history import rollout_so_far
from fleet.api.lifecycle import Resumed, closing, drive
from fleet.api.outputs import open_outputs
from fleet.api.prepare import preflight, select_sentinels
from fleet.engine.reboot import PendingReboot
from fleet.engine.runner import EngineSettings
from fleet.errors import SpecError
from fleet.journal.codec import result_from_final, view_from_detail
from fleet.journal.records import CRASHED, RUNNING, JournalTarget, LatestState, Phase
from fleet.journal.store import Journal
from fleet.journal.writer import RunWriter
from fleet.model import (
    Batch,
    CallError,
    GateRecord,
    JobSpec,
    RolloutPlan,
    RunPlan,
    RunReport,
    Status,
    Target,
    TargetResult,
    name_matches,
    unmatched_globs,
)
from fleet.ports import Backend, RunObserver
from fleet.rollout.control import RunControl
from fleet.secrets import Secrets, using

log = structlog.get_logger("fleet")


@dataclass(frozen=True)
class Continuation:
    """How a resume goes on: ``past_halt`` — take up what a halt left NotStarted;
    ``exclude`` — name globs of not-yet-launched targets to leave out (Skipped)."""

    past_halt: bool = False
    exclude: tuple[str, ...] = ()

    def excluded(self, target: Target) -> TargetResult | None:
        if not self.exclude or not name_matches(target.name, self.exclude):
            return None
        reason = f"excluded when the run was resumed (--exclude {' '.join(self.exclude)})"
        return TargetResult(target, Status.SKIPPED, reason=reason)


def check_exclusions(journal: Journal, run_id: str, globs: tuple[str, ...]) -> None:
    """Refuse (``SpecError``, exit 2, nothing sent) an ``--exclude`` glob that names none of
    the run's targets: a typo ("web-05" for web-005) would launch the very VM the operator
    meant to leave out."""
    missing = unmatched_globs((jt.target.name for jt in journal.targets(run_id)), globs)
    if missing:
        which = ", ".join(repr(g) for g in missing)
        message = (
            f"--exclude {which} matches none of run {run_id}'s targets: check the name "
            f"(fleet show {run_id} -o tsv lists them); nothing was sent."
        )
        raise SpecError(message)


#: How a run may have ended for ``--continue`` to take it up again.
CONTINUABLE = frozenset({"halted-by-gate", "halted-by-error-budget", "deadline", "canceled"})


def _batches(
    spec: JobSpec,
    planned: list[JournalTarget],
    leave_out: set[str],
    groups: Mapping[int, str | None],
) -> RolloutPlan:
    """The batches as journaled (batch 0 = skipped before launch, not part of the plan),
    without the targets in ``leave_out`` (ids); ``groups``: the journaled batches' groups."""
    by_batch: dict[int, list[JournalTarget]] = {}
    for jt in planned:
        if jt.batch > 0 and jt.target.id not in leave_out:
            by_batch.setdefault(jt.batch, []).append(jt)
    batches = tuple(
        Batch(
            index, groups.get(index), tuple(jt.target for jt in sorted(rows, key=lambda r: r.order))
        )
        for index, rows in sorted(by_batch.items())
    )
    return RolloutPlan(spec.rollout.order, batches)


def pending_reboot(target: Target, state: LatestState) -> PendingReboot:
    """What the journal knows of ``target``'s reboot (its phase is REBOOTING)."""
    intent = state.reboot
    assert intent is not None  # REBOOTING follows an INTENT_REBOOT
    refusal = None
    error = state.reboot_error
    if error is not None and state.reboot_arrived is False:
        candidate = CallError(int(error.get("status") or 0), str(error.get("code") or ""), "")
        if not candidate.transient:  # refused: it never happened; a lost one may be re-sent
            refusal = CallError(candidate.status, candidate.code, str(error.get("message") or ""))
    return PendingReboot(
        script=result_from_final(target, intent.detail.get("script") or {}),
        required=str(intent.detail.get("required") or "required"),
        baseline=view_from_detail(intent.detail.get("baseline") or {}),
        intent_at=intent.at,
        arrived=state.reboot_arrived,
        refusal=refusal,
        restarts=state.reboot_intents,
    )


@dataclass
class _Split:
    """The journal's targets sorted for the resumed plan."""

    skipped: list[TargetResult] = field(default_factory=list)  # final before launch
    done: list[TargetResult] = field(default_factory=list)  # final in the plan: kept
    reattach: dict[str, bool] = field(default_factory=dict)  # launched: id → ambiguous
    rebooting: dict[str, PendingReboot] = field(default_factory=dict)  # id → its reboot
    fresh: set[str] = field(default_factory=set)  # ids whose result is new (to be recorded)


def _split(
    planned: list[JournalTarget],
    states: dict[str, LatestState],
    finals: dict[str, TargetResult],
    spec: JobSpec,
    how: Continuation,
) -> _Split:
    out = _Split()
    for jt in planned:
        tid, state = jt.target.id, states.get(jt.target.id)
        final = finals.get(tid)
        if jt.batch == 0:
            out.skipped.append(final or preflight([jt.target], spec.script)[1][0])
            continue
        if state is not None and state.phase in (Phase.RUNNING, Phase.AMBIGUOUS):
            out.reattach[tid.lower()] = state.phase is Phase.AMBIGUOUS
            continue
        if state is not None and state.phase is Phase.REBOOTING:
            out.rebooting[tid.lower()] = pending_reboot(jt.target, state)
            continue
        take_up = how.past_halt and final is not None and final.status is Status.NOT_STARTED
        if final is not None and not take_up:
            out.done.append(final)
            continue
        excluded = how.excluded(jt.target)
        if excluded is not None:
            out.skipped.append(excluded)
            out.fresh.add(tid)
    return out


def take_over(
    journal: Journal,
    run_id: str,
    spec: JobSpec,
    *,
    force: bool = False,
    past_halt: bool = False,
) -> RunWriter:
    """Check that ``run_id`` can be resumed with ``spec`` and take its writer lock — before
    connecting to Azure, so a locked or finished run fails fast. ``force``: take over a lock
    held by another host that cannot be proven dead from here; ``past_halt``: a run that
    ended halted (``CONTINUABLE``) may be taken up again."""
    ended = journal.run(run_id).ended
    if ended in (RUNNING, CRASHED) or (past_halt and ended in CONTINUABLE):
        return journal.resume_run(run_id, spec, force=force)
    if ended in CONTINUABLE:
        message = (
            f"run {run_id} ended {ended}. Look at it (fleet show {run_id}); to go on with "
            f"the targets it did not start: fleet resume {run_id} --continue [--exclude NAME]"
        )
    else:
        message = (
            f"run {run_id} already ended ({ended}); there is nothing to resume. "
            f"To run its failed targets again: fleet rerun {run_id} --failed"
        )
    raise SpecError(message)


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
    how: Continuation | None = None,
    outputs_root: Path | None = None,
) -> RunReport:
    """Finish ``run_id`` (``spec``: rebuilt from its recipe, ``fleet.spec.Recipe``), or go on
    past its halt (``how``). ``writer``: the run's writer if the caller took it already
    (:func:`take_over`); ``outputs_root``: as for :func:`fleet.api.run.run_async`."""
    how = how or Continuation()
    settings = settings or EngineSettings(time_scale=backend.time_scale)
    with using(Secrets.from_spec(spec)):
        if writer is None:
            take = functools.partial(
                take_over, journal, run_id, spec, force=force, past_halt=how.past_halt
            )
            writer = await anyio.to_thread.run_sync(take)
        with closing(writer):
            plan, resumed = await _journaled_plan(run_id, journal, spec, backend, how)
            started = journal.run(run_id).started_at
            async with open_outputs(plan, backend, settings, outputs_root) as outputs:
                return await drive(
                    plan, backend, started=started, writer=writer, settings=settings,
                    observer=observer, control=control, resumed=resumed, outputs=outputs,
                )  # fmt: skip


async def _journaled_plan(
    run_id: str, journal: Journal, spec: JobSpec, backend: Backend, how: Continuation
) -> tuple[RunPlan, Resumed]:
    """The run's plan as journaled (less what ``how`` excludes), and what it already did."""
    planned = journal.targets(run_id)
    states = journal.target_states(run_id)
    split = _split(planned, states, journal.final_results(run_id), spec, how)
    gates, started = _rollout_before(journal, run_id)
    plan = RunPlan(
        run_id=run_id,
        spec=spec,
        selected=tuple(jt.target for jt in planned),
        skipped=tuple(split.skipped),
        rollout=_batches(spec, planned, {r.target.id for r in split.skipped}, started),
        sentinels=tuple(await select_sentinels(spec, backend)),
    )
    log.info(
        "run.resumed", run_id=run_id, done=len(split.done) + len(split.skipped),
        reattach=len(split.reattach), rebooting=len(split.rebooting),
        past_halt=how.past_halt, excluded=len(split.fresh),
        remaining=len(plan.targets) - len(split.done) - len(split.reattach)
        - len(split.rebooting),
    )  # fmt: skip
    finals = {tid.lower() for tid, s in states.items() if s.phase is Phase.DONE}
    finals |= {r.target.id.lower() for r in split.done}
    finals -= {tid.lower() for tid in split.fresh}
    recorded = [r for r in (*split.done, *split.skipped) if r.target.id.lower() in finals]
    handles = {tid.lower(): s.handle for tid, s in states.items() if s.handle is not None}
    return plan, Resumed(
        done=recorded, reattach=split.reattach, handles=handles, rebooting=split.rebooting,
        count_done=not how.past_halt, gates=gates, started=frozenset(started),
    )  # fmt: skip


def _rollout_before(
    journal: Journal, run_id: str
) -> tuple[tuple[GateRecord, ...], dict[int, str | None]]:
    """The gate verdicts given so far and the batches started (index → group)."""
    before = rollout_so_far(journal, run_id)
    if before is None:
        return (), {}
    return before.gates, {b.index: b.group for b in before.batches if b.started}

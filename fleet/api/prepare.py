"""Preparing a run: select the targets, skip the ones that cannot run (no write needed),
select the health gates' sentinels, check the job's built-in ``command_id`` against the
catalog of the targets' locations, learn from the job's history how long each target's script
takes (with a journal), cut the rollout's batches (longest-expected first inside each), name the
run — the ``RunPlan`` that is shown, confirmed and run. Bulk reads only; nothing is written to
Azure.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import anyio
import structlog

from fleet.api.command_check import check_command_ids
from fleet.api.forecast import forecast_for
from fleet.errors import NothingSelected, SpecError
from fleet.journal import Journal
from fleet.model import (
    Forecast,
    JobSpec,
    RunPlan,
    ScriptSpec,
    Selector,
    Status,
    Target,
    TargetResult,
    name_matches,
    unmatched_globs,
)
from fleet.ports import Backend
from fleet.rollout.batches import plan_rollout
from fleet.rollout.gates import matches_sentinels

log = structlog.get_logger("fleet")


def new_run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def needs_os(spec: JobSpec) -> bool:
    return spec.script.linux is not None or spec.script.windows is not None


def preflight(
    targets: Sequence[Target], script: ScriptSpec | None = None
) -> tuple[list[Target], list[TargetResult]]:
    """Split targets into runnable ones and ``Skipped`` — not running, or (with ``script``) no
    script for the target's OS — decided without a write."""
    runnable, skipped = [], []
    for target in targets:
        if (target.power_state or "running").lower() != "running":
            reason = f"not running (power state: {target.power_state})"
            skipped.append(TargetResult(target, Status.SKIPPED, reason=reason))
        elif script is not None and script.source_for(target.os) is None:
            reason = f"the job has no script for OS {target.os or 'unknown'}"
            skipped.append(TargetResult(target, Status.SKIPPED, reason=reason))
        else:
            runnable.append(target)
    return runnable, skipped


def require_targets(spec: JobSpec, selected: Sequence[Target]) -> None:
    """``NothingSelected`` when the selection matched nothing: a typo in a tag must not make
    a scheduled run succeed for ever (``allow_empty`` in :func:`prepare` accepts it)."""
    if selected:
        return
    subs = len(spec.selector.subscriptions)
    where = f"in the {subs} subscription(s) given" if subs else "in the subscriptions searched"
    message = (
        f"{spec.source}: no VM or scale-set instance matches the selection {where} — check "
        "the filters with `fleet targets` (a typo in a tag or name?), or pass --allow-empty "
        "if an empty run is fine."
    )
    raise NothingSelected(message)


async def select(spec: JobSpec, backend: Backend) -> list[Target]:
    """The targets ``spec`` selects (bulk reads only, nothing written). Its name exclusions
    are applied here, once :func:`refuse_unmatched_exclusions` has checked them against what
    the other filters selected."""
    globs = spec.selector.exclude_names
    wider = replace(spec.selector, exclude_names=())
    found = list(await backend.targets.select(wider, need_os=needs_os(spec)))
    refuse_unmatched_exclusions(spec, found)
    return [t for t in found if not (globs and name_matches(t.name, globs))]


def refuse_unmatched_exclusions(spec: JobSpec, selected: Sequence[Target]) -> None:
    """Refuse (``SpecError``, exit 2, nothing sent) a name exclusion that matches none of the
    targets the other filters ``selected``: a typo ("web-05" for web-005) would run on the
    very VM the operator meant to leave out. An empty selection is ``require_targets``'s."""
    missing = unmatched_globs([t.name for t in selected], spec.selector.exclude_names)
    if not missing or not selected:
        return
    which = ", ".join(repr(g) for g in missing)
    count = f"{len(selected):,} target{'s' if len(selected) != 1 else ''}"
    message = (
        f"{spec.source}: --exclude-name/targets.exclude.names {which} matches none of the "
        f"{count} selected: check the name (fleet targets without the exclusion lists "
        "them); nothing was sent."
    )
    raise SpecError(message)


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


async def prepare(
    spec: JobSpec,
    backend: Backend,
    *,
    targets: Sequence[Target] | None = None,
    only: Collection[str] | None = None,
    run_id: str | None = None,
    allow_empty: bool = True,
    history: Journal | None = None,
    forecast: Forecast | None = None,
) -> RunPlan:
    """The plan of a run of ``spec``: its targets (selected now, or ``targets``; ``only``:
    lower-cased ids to keep of them), the preflight skips, the sentinels and the batches.
    ``allow_empty=False``: ``NothingSelected`` when no target is selected. ``forecast`` (else
    one learned from ``history``, the journal of the job's earlier runs) orders each batch
    longest-expected first and seeds the run's polling."""
    if spec.rollout.reboot.enabled and backend.machines is None:
        message = (
            f"{spec.source}: rollout.reboot is {spec.rollout.reboot.mode.value}, but this "
            "connection cannot restart VMs — set reboot: never, or use a backend with machines"
        )
        raise SpecError(message)
    selected = list(targets) if targets is not None else await select(spec, backend)
    if only is not None:
        selected = [t for t in selected if t.id.lower() in only]
    if not allow_empty:
        require_targets(spec, selected)
    sentinels = await select_sentinels(spec, backend)
    runnable, skipped = preflight(selected, spec.script)
    await check_command_ids(spec, [*runnable, *sentinels], backend.catalog)
    if forecast is None and history is not None:
        forecast = await anyio.to_thread.run_sync(forecast_for, history, spec)
    plan = RunPlan(
        run_id=run_id or new_run_id(),
        spec=spec,
        selected=tuple(selected),
        skipped=tuple(skipped),
        rollout=plan_rollout(runnable, spec.rollout, forecast),
        sentinels=tuple(sentinels),
        forecast=forecast,
    )
    log.info(
        "run.planned", run_id=plan.run_id, job=spec.name, targets=len(selected),
        skipped=len(skipped), batches=len(plan.rollout.batches),
        history_runs=forecast.runs if forecast else 0,
    )  # fmt: skip
    return plan

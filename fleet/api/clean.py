"""Cleaning up what fleet left on the VMs (``fleet clean``): ``survey`` lists every run command on
the selected targets and says, for each, whether fleet would delete it and why (a dry run writes
nothing); ``clean`` deletes what a survey chose.

Only fleet's own run commands (its marker: ``fleet.model.hygiene``) that have finished are ever
deleted — never another tool's or person's, never one still Pending or Running — filtered by job
and by age (``fleet.engine.hygiene.clean_verdict``). Right before each DELETE the run command is
read again: one that changed since the survey (started again by a newer run, say) is left alone.
A VM that is not running cannot have extensions changed (Azure answers 409), so its run commands
are listed but not deleted. Reads and deletes go through the throttled SDK pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import anyio
import structlog

from fleet.engine.hygiene import clean_verdict
from fleet.model import CallError, ListedRunCommand, RunView, Target
from fleet.ports import Backend

log = structlog.get_logger("fleet")
_LISTS_IN_FLIGHT = 16  # targets listed at once (reads; the throttle paces them anyway)
_DELETES_IN_FLIGHT = 8


@dataclass(frozen=True)
class CleanFilter:
    """Which of fleet's finished run commands to delete: of ``job`` only (None: any job's),
    finished more than ``older_than_s`` ago (None: any age)."""

    job: str | None = None
    older_than_s: int | None = None


@dataclass(frozen=True)
class CleanRow:
    """One run command on a target (``item``), or a target that could not be listed (``item``
    None, ``error`` says why), with what fleet does about it."""

    target: Target
    item: ListedRunCommand | None
    delete: bool  # chosen for deletion
    why: str
    deleted: bool = False  # set by ``clean``
    error: str | None = None  # listing or deleting failed

    @property
    def fleets(self) -> bool:
        return self.item is not None and self.item.fleets


@dataclass(frozen=True)
class CleanPlan:
    rows: tuple[CleanRow, ...]
    targets: int  # how many targets were surveyed
    dry_run: bool = True

    @property
    def chosen(self) -> tuple[CleanRow, ...]:
        return tuple(r for r in self.rows if r.delete)

    @property
    def failed(self) -> tuple[CleanRow, ...]:
        return tuple(r for r in self.rows if r.error is not None)


def _running(target: Target) -> bool:
    return (target.power_state or "running").lower() == "running"


def _rows(
    target: Target, listed: Sequence[ListedRunCommand], what: CleanFilter, now: datetime
) -> list[CleanRow]:
    rows = []
    for item in sorted(listed, key=lambda i: i.name.lower()):
        verdict = clean_verdict(item, job=what.job, older_than_s=what.older_than_s, now=now)
        delete, why = verdict.delete, verdict.why
        if delete and not _running(target):
            delete, why = False, f"VM {target.power_state}: Azure refuses changes until it runs"
        rows.append(CleanRow(target, item, delete, why))
    return rows


async def survey(
    backend: Backend,
    targets: Sequence[Target],
    what: CleanFilter,
    *,
    now: datetime | None = None,
) -> CleanPlan:
    """Every run command on ``targets`` and whether fleet would delete it (reads only); ages
    are counted up to ``now`` (default: the current time)."""
    found: dict[str, list[CleanRow]] = {}
    at = now or datetime.now(UTC)
    limit = anyio.CapacityLimiter(_LISTS_IN_FLIGHT)

    async def one(target: Target) -> None:
        async with limit:
            listed = await backend.run_commands.list_commands(target)
        if isinstance(listed, CallError):
            error = f"{listed.code}: {listed.message}"
            found[target.id] = [CleanRow(target, None, False, "could not list", error=error)]
        else:
            found[target.id] = _rows(target, listed, what, at)

    async with anyio.create_task_group() as tg:
        for target in targets:
            tg.start_soon(one, target)
    rows = tuple(row for t in targets for row in found[t.id])
    log.info("clean.surveyed", targets=len(targets), chosen=sum(r.delete for r in rows))
    return CleanPlan(rows, len(targets))


async def clean(backend: Backend, plan: CleanPlan) -> CleanPlan:
    """Delete what ``plan`` chose; each row says whether it was deleted, or why not."""
    rows = list(plan.rows)
    limit = anyio.CapacityLimiter(_DELETES_IN_FLIGHT)

    async def one(index: int) -> None:
        async with limit:
            rows[index] = await _delete(backend, rows[index])

    async with anyio.create_task_group() as tg:
        for index, row in enumerate(rows):
            if row.delete:
                tg.start_soon(one, index)
    return replace(plan, rows=tuple(rows), dry_run=False)


async def _delete(backend: Backend, row: CleanRow) -> CleanRow:
    """Read it again, then delete it unless it changed since the survey."""
    assert row.item is not None
    ops, target, item = backend.run_commands, row.target, row.item
    now = await ops.get(target, item.name)
    if isinstance(now, CallError):
        if now.status == 404:
            return replace(row, delete=False, why="gone already")
        return replace(row, error=f"{now.code}: {now.message}")
    if _changed(item.view, now):
        why = f"changed since it was listed (now {now.execution_state}): left alone"
        return replace(row, delete=False, why=why)
    err = await ops.delete(target, item.name)
    if err is not None and err.status != 404:
        return replace(row, error=f"{err.code}: {err.message}")
    log.info("clean.deleted", target=target.id, run_command=item.name, job=item.job)
    return replace(row, deleted=True)


def _changed(before: RunView, now: RunView) -> bool:
    return not now.terminal or (now.run_id, now.start_time) != (before.run_id, before.start_time)

"""A run's output blobs (the job's ``output:``), open for the run's life: the backend opens the
container (``Backend.outputs``: SAS issuing, reads), earlier runs' blobs past ``keep_days`` are
deleted, and the engine gets a ``RunOutputs`` — with a completion watcher for ``completion:
storage`` — that keeps each target's full output under ``outputs_root/<run id>/`` (the
report's files, ``fleet.report.outputs``) and keys it for grouping (``fleet.report.groups``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from fleet.engine.outputs import SAS_MARGIN_S, RunOutputs
from fleet.engine.runner import EngineSettings
from fleet.engine.settings import AnyioClock
from fleet.engine.storage_watch import CompletionWatcher
from fleet.errors import SpecError
from fleet.model import CallError, Completion, Mode, RunPlan, run_limit_s
from fleet.ports import Backend, OutputStore
from fleet.report.groups import content_key
from fleet.report.outputs import LocalOutputFiles

log = structlog.get_logger("fleet")
NO_DEADLINE_S = 86_400  # how long the run's SAS signing key lives when the run has no deadline


@contextlib.asynccontextmanager
async def open_outputs(
    plan: RunPlan, backend: Backend, settings: EngineSettings, outputs_root: Path | None
) -> AsyncIterator[RunOutputs | None]:
    spec = plan.spec.output
    if spec is None:
        yield None
        return
    if backend.outputs is None:
        message = (
            f"job {plan.spec.name} asks for output storage ({spec.storage.container_url}) but "
            "this connection cannot reach blob storage"
        )
        raise SpecError(message)
    if plan.spec.mode is Mode.ACTION:  # a job file says so first (fleet.spec.modes)
        message = (
            f"job {plan.spec.name} asks for output storage in mode: action, but an action run "
            "command takes no output blobs — remove output, or use mode: managed"
        )
        raise SpecError(message)
    policy = plan.spec.rollout
    lifetime = (policy.deadline_s or NO_DEADLINE_S) + policy.pending_timeout_s
    lifetime += run_limit_s(plan.spec.script.timeout_s)
    until = datetime.now(UTC) + timedelta(seconds=lifetime + settings.wedge_grace_s + SAS_MARGIN_S)
    async with backend.outputs(spec, until) as store:
        await _prune(store, spec.keep_days)
        watcher = None
        if spec.completion is Completion.STORAGE:
            scaled = settings.storage.scaled(settings.time_scale)
            watcher = CompletionWatcher(store, plan.run_id, AnyioClock(), scaled)
        files = None if outputs_root is None else LocalOutputFiles(outputs_root / plan.run_id)
        targets = (*plan.targets, *plan.sentinels)
        yield RunOutputs(
            spec, store, plan.run_id, targets, files=files, digest=content_key, watcher=watcher
        )


async def _prune(store: OutputStore, keep_days: int | None) -> None:
    if keep_days is None:
        return
    gone = await store.prune(datetime.now(UTC) - timedelta(days=keep_days))
    if isinstance(gone, CallError):
        log.warning("storage.prune_failed", status=gone.status, code=gone.code)
    elif gone:
        log.info("storage.pruned", blobs=gone, keep_days=keep_days)

"""Running: ``run_async(plan_or_spec, backend)`` → ``RunReport`` (and ``run``, its
synchronous twin). A ``RunPlan`` from :func:`fleet.api.prepare` runs exactly as planned —
the plan an operator confirmed is the one that runs; a ``JobSpec`` is prepared first.

With a ``journal``, the run and every per-target transition are recorded (the intent to PUT
durably before the PUT), so :func:`fleet.api.resume_async` can finish it after a crash; the
``recipe`` is stored with it to rebuild the spec then. The spec's secrets are current while
it runs (``fleet.secrets.using``): the logs redact them.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path

import anyio
import structlog

from fleet.api.lifecycle import begin, closing, drive
from fleet.api.outputs import open_outputs
from fleet.api.prepare import prepare
from fleet.engine.runner import EngineSettings
from fleet.journal.store import Journal
from fleet.model import JobSpec, RunPlan, RunReport
from fleet.ports import Backend, RunObserver
from fleet.rollout.control import RunControl
from fleet.secrets import Secrets, using
from fleet.spec.recipe import Recipe

log = structlog.get_logger("fleet")


async def run_async(
    job: RunPlan | JobSpec,
    backend: Backend,
    *,
    settings: EngineSettings | None = None,
    observer: RunObserver | None = None,
    control: RunControl | None = None,
    journal: Journal | None = None,
    recipe: Recipe | None = None,
    outputs_root: Path | None = None,
) -> RunReport:
    """Run ``job`` batch by batch under its rollout policy: launch, poll, report.
    ``observer`` hears the run's events; ``control`` stops it from outside (call its
    ``interrupt()``, ``stop()`` or ``cancel()`` from a signal handler or a UI).
    ``outputs_root``: where a job with ``output:`` keeps full outputs (``<root>/<run id>/``;
    None: only in the report's 4 KB tails and grouping)."""
    plan = job if isinstance(job, RunPlan) else await prepare(job, backend)
    settings = settings or EngineSettings(time_scale=backend.time_scale)
    with using(Secrets.from_spec(plan.spec)):
        started = datetime.now(UTC)
        async with open_outputs(plan, backend, settings, outputs_root) as outputs:
            log.info("run.started", run_id=plan.run_id, job=plan.spec.name)
            stored = None if recipe is None else recipe.to_json()
            writer = None if journal is None else await begin(journal, plan, stored)
            with closing(writer):
                return await drive(
                    plan, backend, started=started, writer=writer, settings=settings,
                    observer=observer, control=control, outputs=outputs,
                )  # fmt: skip


def run(
    job: RunPlan | JobSpec,
    backend: Backend,
    *,
    settings: EngineSettings | None = None,
    observer: RunObserver | None = None,
    control: RunControl | None = None,
    journal: Journal | None = None,
    recipe: Recipe | None = None,
    outputs_root: Path | None = None,
) -> RunReport:
    """Synchronous :func:`run_async` (starts its own event loop)."""
    main = functools.partial(
        run_async, job, backend, settings=settings, observer=observer, control=control,
        journal=journal, recipe=recipe, outputs_root=outputs_root,
    )  # fmt: skip
    return anyio.run(main)

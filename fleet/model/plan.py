"""``RunPlan``: what a run will do, decided before anything is written to Azure — the run id,
the targets selected, the ones skipped without a write, the rollout's batches, the health
gates' sentinels and what the job's history says each target's script takes (its launches go
longest-expected first within each batch, its first reads when each is expected to be done).
``fleet.api.prepare`` makes it; the CLI shows it and asks; the confirmed object is exactly what
``fleet.api.run_async`` executes (one plan per run).
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet.model.forecast import Forecast
from fleet.model.job import JobSpec
from fleet.model.results import TargetResult
from fleet.model.rollout import RolloutPlan
from fleet.model.targets import Target


@dataclass(frozen=True)
class RunPlan:
    run_id: str
    spec: JobSpec
    selected: tuple[Target, ...]  # every target the selector found, in selection order
    skipped: tuple[TargetResult, ...]  # decided without a write (e.g. not running)
    rollout: RolloutPlan  # the targets that will be launched, in batches
    sentinels: tuple[Target, ...] = ()  # the targets health gates check instead of a batch
    forecast: Forecast | None = None  # expected run times from the job's history (None: none)

    @property
    def targets(self) -> list[Target]:
        """The targets the run launches, in batch order."""
        return self.rollout.targets

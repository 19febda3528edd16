"""A job's ``Forecast`` from the journal: the run times of its latest runs per target (in the
job's mode: ``fleet.journal.timings``), learned by ``fleet.rollout.forecast`` (pure).
``fleet.api.prepare`` asks for it when given a journal, so a job that has run before launches
its longest-expected scripts first within each batch and reads each target about when it should
be done (in action mode: its operation, through the handle its POST answered); ``fleet plan``
shows the ETA it gives.
"""

from __future__ import annotations

from fleet.journal import Journal, script_hash
from fleet.model import Forecast, JobSpec
from fleet.rollout.forecast import Observation, learn

RUNS = 10  # the latest runs of the job looked at (older ones weigh little anyway)


def forecast_for(
    journal: Journal, spec: JobSpec, *, runs: int = RUNS, exclude: str | None = None
) -> Forecast | None:
    """What the journal's earlier runs of ``spec``'s job say about its run times (None: the
    job has no timed run yet). Blocking SQLite reads: call it from a worker thread in async
    code."""
    times = journal.script_times(
        spec.name,
        runs=runs,
        script_hash=script_hash(spec),
        exclude=exclude,
        mode=spec.mode.value,  # an action run's times are its operation's, not the script's
    )
    return learn(Observation(target, seconds, ago) for ago, target, seconds in times)

"""The library: everything a caller needs to run fleet, the CLI being one such caller.

    prepare    select, preflight, sentinels, batches → RunPlan (bulk reads only)
    run        run_async / run: a RunPlan (or a JobSpec, prepared first) → RunReport
    resume     finish a crashed run from its journal, or go on past a halt (take_over,
               resume_async, Continuation)
    lifecycle  a run's life around the engine: journal begin/end, report, observer
    history    the journal's runs: open_journal, report_from_journal, recipe_of, unfinished
    estimate   the throttle model's ETA and ARM request cost of a plan (pure)
    clean      what fleet left on the VMs: survey (a dry run) and clean (``fleet clean``)

A backend bundles the ports (``fleet.ports.Backend``): ``fleet.azure.backend.azure_backend``
for Azure or the emulator, in-memory fakes in tests. Events reach a ``fleet.ports.RunObserver``;
``fleet.rollout.control.RunControl`` stops a run from outside::

    plan = await api.prepare(spec, backend)        # show it, ask, then:
    report = await api.run_async(plan, backend, observer=MyObserver())
"""

from fleet.api.history import open_journal, recipe_of, report_from_journal, unfinished
from fleet.api.prepare import new_run_id, preflight, prepare, select, select_sentinels
from fleet.api.resume import Continuation, resume_async, take_over
from fleet.api.run import run, run_async
from fleet.model import RunPlan
from fleet.ports import Backend, RunObserver

__all__ = [
    "Backend",
    "Continuation",
    "RunObserver",
    "RunPlan",
    "new_run_id",
    "open_journal",
    "preflight",
    "prepare",
    "recipe_of",
    "report_from_journal",
    "resume_async",
    "run",
    "run_async",
    "select",
    "select_sentinels",
    "take_over",
    "unfinished",
]

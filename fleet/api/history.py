"""Runs in the journal, for library callers and ``fleet runs/show/resume/rerun``: open the
journal of a state directory, a run's report as the journal knows it, its recipe, and the
targets a ``rerun --failed`` takes again.
"""

from __future__ import annotations

from pathlib import Path

from fleet.journal import Journal, resolve_state_dir
from fleet.journal.spec_record import expect_from_dict
from fleet.model import ArmCounters, RunReport, Status, TargetResult
from fleet.spec.recipe import Recipe


def open_journal(state_dir: Path | None, *, writable: bool = True) -> Journal:
    """The journal in ``state_dir`` (else ``$FLEET_STATE_DIR``, else the user data dir)."""
    return Journal.open(resolve_state_dir(state_dir), writable=writable)


def recipe_of(journal: Journal, run_id: str) -> Recipe:
    """How ``run_id`` was made (``SpecError`` when it cannot be made again)."""
    return Recipe.from_json(journal.run(run_id).recipe, run_id)


def report_from_journal(journal: Journal, run_id: str) -> RunReport:
    """The run's report as the journal knows it (targets with no final state are NotStarted)."""
    record = journal.run(run_id)
    finals = journal.final_results(run_id)
    results = []
    for jt in journal.targets(run_id):
        result = finals.get(jt.target.id)
        if result is None:
            why = f"no final state recorded (run {record.ended})"
            result = TargetResult(jt.target, Status.NOT_STARTED, reason=why)
        results.append(result)
    stored = journal.report_json(run_id) or {}
    arm = stored.get("arm") or {}
    counters = ArmCounters(
        requests=dict(arm.get("requests") or {}),
        throttled=int(arm.get("throttled") or 0),
        throttle_wait_s=float(arm.get("throttle_wait_s") or 0.0),
        retries=int(arm.get("retries") or 0),
    )
    return RunReport(
        run_id=run_id,
        job=record.job,
        started_at=record.started_at,
        finished_at=record.ended_at or record.started_at,
        results=tuple(results),
        arm=counters,
        ended=record.ended,
        expect=expect_from_dict(record.spec.get("expect")),
        cleanup=str((stored.get("cleanup") or {}).get("policy") or "keep-last"),
    )


def unfinished(journal: Journal, run_id: str) -> frozenset[str]:
    """Lower-cased ids of the run's targets that did not succeed (failed or never started)."""
    results = report_from_journal(journal, run_id).results
    return frozenset(r.target.id.lower() for r in results if r.status is not Status.SUCCEEDED)

"""Runs in the journal, for library callers and ``fleet runs/show/resume/rerun``: open the
journal of a state directory, a run's report as the journal knows it, its recipe, and the
targets a ``rerun --failed`` takes again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from fleet.journal import CRASHED, RUNNING, Journal, Phase, resolve_state_dir
from fleet.journal.codec import result_from_final
from fleet.journal.records import JournalTarget, LatestState, RunRecord
from fleet.journal.spec_record import expect_from_dict
from fleet.model import ArmCounters, RunReport, Status, StorageCounters, TargetResult
from fleet.report.json_report import rollout_from_dict, script_from_dict
from fleet.spec.recipe import Recipe

INTERRUPTED = "interrupted"


def open_journal(state_dir: Path | None, *, writable: bool = True) -> Journal:
    """The journal in ``state_dir`` (else ``$FLEET_STATE_DIR``, else the user data dir)."""
    return Journal.open(resolve_state_dir(state_dir), writable=writable)


def recipe_of(journal: Journal, run_id: str) -> Recipe:
    """How ``run_id`` was made (``SpecError`` when it cannot be made again)."""
    return Recipe.from_json(journal.run(run_id).recipe, run_id)


def ended_as_shown(ended: str) -> str:
    """How a run ended, as ``fleet runs``/``show`` say it: a run whose process died without
    ending it (the journal's ``crashed``) is ``interrupted`` — ``fleet resume`` finishes it."""
    return INTERRUPTED if ended == CRASHED else ended


def _unfinished_result(jt: JournalTarget, state: LatestState | None, ended: str) -> TargetResult:
    """A target with no final result: Running if it was launched (its script's result so far
    when it is rebooting), else NotStarted."""
    live = ended == RUNNING
    if state is not None and state.phase is Phase.REBOOTING and state.reboot is not None:
        script = result_from_final(jt.target, state.reboot.detail.get("script") or {})
        why = "its script finished; its VM is rebooting" if live else (
            f"its script finished; its VM was rebooting when the run was {ended}"
        )  # fmt: skip
        return replace(script, status=Status.RUNNING, reason=why)
    if state is not None and state.phase in (Phase.RUNNING, Phase.AMBIGUOUS):
        why = "launched, running" if live else f"launched; the run was {ended} before its result"
        return TargetResult(jt.target, Status.RUNNING, reason=why)
    why = "not launched yet" if live else f"not launched (run {ended})"
    return TargetResult(jt.target, Status.NOT_STARTED, reason=why)


def report_from_journal(journal: Journal, run_id: str) -> RunReport:
    """The run's report as the journal knows it — for a run in flight or interrupted too:
    launched targets without a result are ``Running``, the others ``NotStarted``."""
    record = journal.run(run_id)
    ended = ended_as_shown(record.ended)
    finals, states = journal.final_results(run_id), journal.target_states(run_id)
    results = tuple(
        finals.get(jt.target.id) or _unfinished_result(jt, states.get(jt.target.id), ended)
        for jt in journal.targets(run_id)
    )
    stored = journal.report_json(run_id) or {}
    arm = stored.get("arm") or {}
    counters = ArmCounters(
        requests=dict(arm.get("requests") or {}),
        throttled=int(arm.get("throttled") or 0),
        throttle_wait_s=float(arm.get("throttle_wait_s") or 0.0),
        retries=int(arm.get("retries") or 0),
    )
    storage = stored.get("storage")
    return RunReport(
        run_id=run_id,
        job=record.job,
        started_at=record.started_at,
        finished_at=record.ended_at or record.started_at,
        results=results,
        arm=counters,
        ended=ended,
        ended_detail=stored.get("ended_detail"),
        rollout=rollout_from_dict(stored.get("rollout")),
        simulated=bool(stored.get("simulated")),
        script=script_from_dict(stored.get("script")),
        expect=expect_from_dict(record.spec.get("expect")),
        cleanup=str((stored.get("cleanup") or {}).get("policy") or "keep-last"),
        storage=None if not storage else _storage(storage),
        reboot=str((stored.get("reboots") or {}).get("policy") or "never"),
    )


def with_outcomes_so_far(journal: Journal, record: RunRecord) -> RunRecord:
    """``record`` with a summary: a run in flight or interrupted has none in the journal
    (written when a run ends), so count its targets as ``fleet show`` would show them."""
    if record.summary is not None or record.ended not in (RUNNING, CRASHED):
        return record
    counts = Counter(r.status.value for r in report_from_journal(journal, record.run_id).results)
    summary = {status.value: counts[status.value] for status in Status if counts[status.value]}
    return replace(record, summary={**summary, "total": sum(counts.values())})


def _storage(raw: dict[str, Any]) -> StorageCounters:
    return StorageCounters(
        requests=dict(raw.get("requests") or {}),
        errors=int(raw.get("errors") or 0),
        bytes_read=int(raw.get("bytes_read") or 0),
    )


def unfinished(journal: Journal, run_id: str) -> frozenset[str]:
    """Lower-cased ids of the run's targets that did not succeed (failed or never started)."""
    results = report_from_journal(journal, run_id).results
    return frozenset(r.target.id.lower() for r in results if r.status is not Status.SUCCEEDED)

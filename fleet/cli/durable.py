"""What ``fleet run`` records so a run can be resumed, and the journal-backed views of runs.

The *recipe* stored with a run is the command line that made it (job, rollout and connection
flags, paths made absolute) plus the spec file's text: enough to rebuild the same spec on
``fleet resume``. Secret values are never part of it: protected parameters and passwords are
references to environment variables, read again on resume.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fleet.errors import SpecError
from fleet.journal import Journal, resolve_state_dir
from fleet.journal.records import RunRecord
from fleet.model import ArmCounters, RunReport, Status, TargetResult

NOT_RECORDED = {"report", "strict", "yes", "log_format", "log_level", "state_dir", "no_journal"}
PATH_KEYS = {"spec", "script_file", "ca_cert"}
CONNECTION_KEYS = ("subscription", "cloud", "arm_endpoint", "ca_cert")


def recipe_for(kw: dict[str, Any]) -> dict[str, Any]:
    from fleet.sim.catalog import absolute_ref
    from fleet.spec import read_spec_text

    flags: dict[str, Any] = {}
    for key, value in kw.items():
        if key in NOT_RECORDED or value is None:
            continue
        if key == "profile":  # a built-in name stays a name, a path becomes absolute
            value = absolute_ref(value)
        elif key in PATH_KEYS:
            value = str(Path(value).resolve())
        flags[key] = value
    spec_path = kw.get("spec")
    text = read_spec_text(spec_path) if spec_path is not None else None
    return {"version": 1, "flags": flags, "spec_text": text, "cwd": os.getcwd()}


def replay(record: RunRecord, overrides: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The flags (with connection ``overrides`` applied) and spec text a run was made with."""
    recipe = record.recipe
    if not recipe or "flags" not in recipe:
        message = f"run {record.run_id} has no recorded command line; it cannot be replayed."
        raise SpecError(message)
    kw = dict(recipe["flags"])
    scrubbed = [k for k, v in kw.items() if "***" in str(v)]
    if scrubbed or "***" in (recipe.get("spec_text") or ""):
        where = ", ".join("--" + k.replace("_", "-") for k in scrubbed) or "the job spec"
        message = (
            f"run {record.run_id} was made with a secret in {where} (e.g. a SAS token in a "
            "script URI), which fleet never stores, so its command line cannot be replayed. "
            "Start a new run with the same spec instead."
        )
        raise SpecError(message)
    for key in PATH_KEYS & kw.keys():
        kw[key] = Path(kw[key])
    for key in CONNECTION_KEYS:
        if overrides.get(key):
            kw[key] = overrides[key]
            if key != "subscription":
                kw["sim"] = False
    return kw, recipe.get("spec_text")


def open_journal(state_dir: Path | None, *, writable: bool = True) -> Journal:
    return Journal.open(resolve_state_dir(state_dir), writable=writable)


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
    )


def run_row(record: RunRecord) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "job": record.job,
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat() if record.ended_at else None,
        "duration_s": record.duration_s,
        "ended": record.ended,
        "targets": record.target_count,
        "summary": dict(record.summary or {}),
        "who": record.who,
        "resumes": record.resumes,
    }

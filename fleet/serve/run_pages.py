"""What the dashboard shows of one run and of one target across runs, as JSON-ready dicts read
from the ``ServiceView``: the run's report (as the run wrote it, or as the journal knows it
while it runs), the changes since the job's previous run, the per-target table with its
filters (``Filters``; worst first, at most ``RUN_ROWS`` rows), live progress; a target's verdict
and change per run and its regression (the run it started failing in).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleet.api.history import report_from_journal
from fleet.errors import FleetError
from fleet.history import Change, TargetChange, TargetRun
from fleet.history.compare import change_of
from fleet.report.json_report import report_to_dict
from fleet.report.outcome import tail
from fleet.serve.pages import TREND_RUNS, NotFound, live_row, run_row
from fleet.serve.view import ServiceView

RUN_ROWS = 500  # per-target rows a run page lists after filtering


@dataclass(frozen=True)
class Filters:
    """The run page's per-target filters (empty = any)."""

    status: str = ""
    verdict: str = ""
    change: str = ""
    name: str = ""  # a substring, or a glob when it has * or ?

    @classmethod
    def of(cls, params: Mapping[str, str]) -> Filters:
        return cls(
            *(params.get(k, "").strip()[:200] for k in ("status", "verdict", "change", "name"))
        )

    def keep(self, row: Mapping[str, Any]) -> bool:
        if self.status and row["status"] != self.status:
            return False
        if self.verdict and row["verdict"] != self.verdict:
            return False
        if self.change and row["change"] != self.change:
            return False
        return not self.name or _name_matches(row["name"], self.name)


def _name_matches(name: str, wanted: str) -> bool:
    if any(c in wanted for c in "*?["):
        return fnmatch.fnmatchcase(name.lower(), wanted.lower())
    return wanted.lower() in name.lower()


def run_document(service: ServiceView, run_id: str) -> dict[str, Any]:
    """The run's JSON report: as the run wrote it, or (still running) as the journal knows it."""
    journal = service.history.journal
    try:
        stored = journal.report_json(run_id)
    except FleetError as exc:
        raise NotFound(f"no run {run_id!r}") from exc
    return stored or report_to_dict(report_from_journal(journal, run_id))


def _target_rows(
    document: Mapping[str, Any], changes: Sequence[TargetChange]
) -> list[dict[str, Any]]:
    change_of_key = {c.key: c.change.value for c in changes}
    rows = []
    for t in document.get("targets") or []:
        verdict = t.get("verdict") or {}
        rows.append(
            {
                "id": t["id"],
                "name": t["name"],
                "resource_group": t["resource_group"],
                "status": t["status"],
                "exit_code": t.get("exit_code"),
                "verdict": verdict.get("verdict"),
                "verdict_reason": verdict.get("reason"),
                "reason": t.get("reason"),
                "change": change_of_key.get(t["id"].lower()),
            }
        )
    return rows


def _worst_first(row: Mapping[str, Any]) -> tuple[int, str, str]:
    """Newly failing first, then failing, then the rest; by name within each."""
    rank = 0 if row["change"] == "newly-failing" else 1 if row["verdict"] == "fail" else 2
    return (rank, row["name"].lower(), row["id"])


def run_page(service: ServiceView, run_id: str, filters: Filters = Filters()) -> dict[str, Any]:
    """One run: its report, the changes since the job's previous run, the per-target table
    (filtered, at most ``RUN_ROWS`` rows) and, while it runs, its live progress."""
    document = run_document(service, run_id)
    summary = service.history.run(run_id)
    comparison = service.history.changes(run_id)
    rows = _target_rows(document, comparison.changes)
    kept = sorted((r for r in rows if filters.keep(r)), key=_worst_first)
    live = next((live_row(r) for r in service.live() if r.run_id == run_id), None)
    return {
        "run": run_row(summary),
        "previous": run_row(comparison.previous) if comparison.previous else None,
        "changes": {c.value: len(comparison.of(c)) for c in Change if c is not Change.UNCHANGED},
        "regressions": [c.name for c in comparison.regressions],
        "recovered": [c.name for c in comparison.recovered],
        "live": live,
        "filters": {
            "status": filters.status,
            "verdict": filters.verdict,
            "change": filters.change,
            "name": filters.name,
        },
        "statuses": sorted({r["status"] for r in rows}),
        "matching": len(kept),
        "targets": kept[:RUN_ROWS],
        "report": document,
    }


def _history_rows(found: Sequence[TargetRun]) -> list[dict[str, Any]]:
    """One row per run, oldest first; a run still in flight has no change (it is not over)."""
    rows, before = [], None
    for entry in found:
        verdict, result = entry.verdict, entry.verdict.result
        change = None
        if entry.run.finished:
            change = change_of(before, verdict).value if before is not None else Change.NEW.value
            before = verdict
        rows.append(
            {
                **run_row(entry.run),
                "status": result.status.value,
                "exit_code": result.exit_code,
                "verdict": verdict.verdict.value,
                "verdict_reason": verdict.judgement.reason or None,
                "values": dict(verdict.judgement.values),
                "reason": result.reason,
                "change": change,
                "passing": {"pass": 1.0, "fail": 0.0}.get(verdict.verdict.value),
                "output_tail": tail(result.output, 20),
                "error_tail": tail(result.error, 10),
            }
        )
    return rows


def _regression(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """When the target fails in the latest finished run: the run it started failing in (after
    a run where it did not fail), with that run's reason; None if it passes or always failed."""
    done = [r for r in rows if r["change"] is not None]
    if not done or done[-1]["verdict"] != "fail":
        return None
    start = len(done) - 1
    while start > 0 and done[start - 1]["verdict"] == "fail":
        start -= 1
    if start == 0:
        return None
    first = done[start]
    return {
        "run_id": first["run_id"],
        "started_at": first["started_at"],
        "reason": first["verdict_reason"],
        "before": done[start - 1]["run_id"],
        "failing_runs": len(done) - start,
    }


def target_page(service: ServiceView, job: str, target: str) -> dict[str, Any]:
    """One target (a name or an ARM id) across the job's runs, oldest first, with the change
    at each finished run and, when it fails now, the regression: the run it started in."""
    found = service.history.target_history(job, target, limit=TREND_RUNS)
    if not found:
        raise NotFound(f"no target {target!r} in the runs of job {job!r}")
    rows = _history_rows(found)
    done = [r for r in rows if r["change"] is not None]
    t = found[-1].verdict.target
    return {
        "job": job,
        "target": {
            "id": t.id,
            "name": t.name,
            "kind": t.kind.value,
            "resource_group": t.resource_group,
            "location": t.location,
            "zone": t.zone,
            "os": t.os,
        },
        "runs": rows,
        "strip": [(r["run_id"], r["verdict"] if r["change"] is not None else None) for r in rows],
        "latest": done[-1] if done else rows[-1],
        "regression": _regression(rows),
    }

"""What each dashboard page shows, as plain JSON-ready dicts read from the ``ServiceView``: the
overview, a job, a run (with its per-target table and filters), one target across runs, and the
schedules. The HTML pages and the JSON API (``fleet.serve.dashboard``) render the same dicts;
charts are added by the HTML side only.

Read-only, no I/O but the service's reads. Times are ISO 8601 UTC strings. A missing job, run
or target raises ``NotFound`` (the route answers 404).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleet.api.history import report_from_journal
from fleet.errors import FleetError
from fleet.history import Change, RunSummary, TargetChange, TargetRun, TrendPoint
from fleet.history.compare import change_of
from fleet.report.json_report import iso, report_to_dict
from fleet.report.outcome import tail
from fleet.schedule import FireRecord, ScheduleState
from fleet.serve.view import JobInfo, LiveRun, ServiceView

TREND_RUNS = 30  # runs in a job's trend sparkline
RUN_ROWS = 500  # per-target rows a run page lists after filtering


class NotFound(FleetError):
    """No such job, run or target (the routes answer 404)."""


def run_row(run: RunSummary) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "job": run.job,
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at),
        "duration_s": run.duration_s,
        "ended": run.ended,
        "targets": run.target_count,
        "rerun_of": run.rerun_of,
    }


def _trend(points: Sequence[TrendPoint]) -> list[dict[str, Any]]:
    return [
        {
            "run_id": p.run_id,
            "started_at": iso(p.started_at),
            "ended": p.ended,
            "share_passing": p.share_passing,
            "passed": p.counts.passed,
            "failed": p.counts.failed,
            "skipped": p.counts.skipped,
        }
        for p in points
    ]


def _fire(record: FireRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "nominal": iso(record.nominal),
        "at": iso(record.at),
        "outcome": record.outcome.value,
        "detail": record.detail,
        "run_id": record.run_id,
    }


def schedule_row(state: ScheduleState) -> dict[str, Any]:
    return {
        "job": state.job,
        "schedule": state.schedule.describe(),
        "timezone": state.schedule.timezone,
        "missed": state.schedule.missed.value,
        "blackouts": [b.describe() for b in state.schedule.blackouts],
        "next_nominal": iso(state.next_nominal),
        "next_due": iso(state.next_due),
        "blackout_now": state.blackout.describe() if state.blackout else None,
        "last": _fire(state.last),
        "recent": [_fire(r) for r in state.recent],
    }


def live_row(run: LiveRun) -> dict[str, Any]:
    p = run.progress
    progress = None
    if p is not None:
        progress = {
            "total": p.total,
            "done": p.done,
            "launched": p.launched,
            "running": p.running,
            "succeeded": p.succeeded,
            "failed": p.failed,
            "skipped": p.skipped,
            "throttled": p.throttled,
            "elapsed_s": round(p.elapsed_s, 1),
        }
    return {
        "run_id": run.run_id,
        "job": run.job,
        "started_at": iso(run.started_at),
        "targets": run.targets,
        "resumed": run.resumed,
        "progress": progress,
    }


def _job_card(service: ServiceView, name: str, info: JobInfo | None) -> dict[str, Any]:
    history = service.history
    runs = history.runs(name, limit=TREND_RUNS)
    finished = [r for r in runs if r.finished]
    last = finished[-1] if finished else None
    card: dict[str, Any] = {
        "name": name,
        "description": info.description if info else "",
        "scheduled": info is not None,
        "schedule": info.schedule.describe() if info else None,
        "last_run": run_row(last) if last else None,
        "last_counts": None,
        "regressions": 0,
        "trend": _trend([p for p in history.trend(name, limit=TREND_RUNS) if p.ended != "running"]),
        "running": [r.run_id for r in runs if r.ended == "running"],
    }
    if last is not None:
        counts = history.verdicts(last.run_id).counts
        card["last_counts"] = {
            "passed": counts.passed,
            "failed": counts.failed,
            "skipped": counts.skipped,
            "share_passing": counts.share_passing,
        }
        card["regressions"] = len(history.changes(last.run_id).regressions)
    return card


def overview(service: ServiceView) -> dict[str, Any]:
    """Every job (scheduled, or with runs in the journal), the schedules, runs in flight,
    the latest alerts and the service's ARM counters."""
    configured = {job.name: job for job in service.jobs()}
    names = sorted(set(configured) | set(service.history.jobs()))
    states = {s.job: schedule_row(s) for s in service.schedules()}
    jobs = []
    for name in names:
        card = _job_card(service, name, configured.get(name))
        card["next_due"] = (states.get(name) or {}).get("next_due")
        card["blackout_now"] = (states.get(name) or {}).get("blackout_now")
        jobs.append(card)
    arm = service.arm_counters()
    info = service.info()
    return {
        "service": {
            "started_at": iso(info.started_at),
            "jobs_dir": info.jobs_dir,
            "listen": info.listen,
            "simulated": info.simulated,
            "version": info.version,
        },
        "jobs": jobs,
        "live": [live_row(r) for r in service.live()],
        "alerts": [alert_row(a) for a in service.alerts(limit=10)],
        "arm": {
            "requests": dict(sorted(arm.requests.items())),
            "throttled": arm.throttled,
            "throttle_wait_s": round(arm.throttle_wait_s, 3),
        },
    }


def alert_row(alert: Any) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "job": alert.job,
        "run_id": alert.run_id,
        "kind": alert.kind.value,
        "created_at": iso(alert.created_at),
        "summary": alert.summary,
        "targets": list(alert.targets),
        "deliveries": [
            {
                "webhook": d.webhook,
                "state": d.state,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "delivered_at": iso(d.delivered_at),
            }
            for d in alert.deliveries
        ],
    }


def job_page(service: ServiceView, name: str) -> dict[str, Any]:
    """One job: its definition and schedule, its runs (newest first) and its trend."""
    configured = {job.name: job for job in service.jobs()}
    runs = service.history.runs(name)
    if name not in configured and not runs:
        raise NotFound(f"no job named {name!r}")
    info = configured.get(name)
    state = next((s for s in service.schedules() if s.job == name), None)
    rows = []
    for run in reversed(runs[-100:]):
        row = run_row(run) | dict.fromkeys(("passed", "failed", "skipped", "regressions"))
        if run.finished:
            counts = service.history.verdicts(run.run_id).counts
            regressions = len(service.history.changes(run.run_id).regressions)
            row |= {
                "passed": counts.passed,
                "failed": counts.failed,
                "skipped": counts.skipped,
                "regressions": regressions,
            }
        rows.append(row)
    return {
        "name": name,
        "description": info.description if info else "",
        "source": info.source if info else None,
        "webhooks": list(info.webhooks) if info else [],
        "alert_on": [k.value for k in info.alert_on] if info else [],
        "schedule": schedule_row(state) if state else None,
        "runs": rows,
        "trend": _trend(service.history.trend(name, limit=TREND_RUNS)),
        "alerts": [alert_row(a) for a in service.alerts(job=name, limit=20)],
    }


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


def schedules(service: ServiceView) -> dict[str, Any]:
    return {"schedules": [schedule_row(s) for s in service.schedules()]}

"""What the dashboard's service pages show, as plain JSON-ready dicts read from the
``ServiceView``: the overview, a job, the schedules, and the rows they share (runs, fires, live
runs, alerts). A run and a target across runs are ``fleet.serve.run_pages``. The HTML pages and
the JSON API (``fleet.serve.dashboard``) render the same dicts; charts are added by the HTML
side only.

Read-only, no I/O but the service's reads. Times are ISO 8601 UTC strings. A missing job, run
or target raises ``NotFound`` (the route answers 404).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fleet.errors import FleetError
from fleet.history import RunSummary, TrendPoint
from fleet.report.json_report import iso
from fleet.schedule import FireRecord, ScheduleState
from fleet.serve.view import AlertRecord, JobInfo, LiveRun, ServiceView

TREND_RUNS = 30  # runs in a job's trend sparkline


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
            "rebooting": p.rebooting,
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


def alert_row(alert: AlertRecord) -> dict[str, Any]:
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


def schedules(service: ServiceView) -> dict[str, Any]:
    return {"schedules": [schedule_row(s) for s in service.schedules()]}

"""``GET /metrics``: the service in Prometheus' text format (prometheus-client), read from the
``ServiceView`` at scrape time by a collector on a registry of its own (no global state).

Per job, about its last finished run (labels ``job``, and ``status`` / ``verdict`` / ``kind``):

    fleet_job_last_run_targets{status}          targets by status
    fleet_job_last_run_verdict_targets{verdict} targets by the job's verdict (pass, fail, skip)
    fleet_job_last_run_share_passing            passing / checked targets (absent: none checked)
    fleet_job_last_run_start_timestamp_seconds, fleet_job_last_run_end_timestamp_seconds,
    fleet_job_last_run_duration_seconds
    fleet_job_last_run_completed                1 when it ended "completed", else 0
    fleet_job_last_run_regressions              targets newly failing since the run before
    fleet_job_last_run_recovered                targets that failed before and pass now
    fleet_job_last_run_arm_requests{kind}       ARM requests the run made (reads, writes, ...)
    fleet_job_last_run_arm_throttled            429s the run received
    fleet_job_runs                              runs of the job in the journal
    fleet_job_running                           runs of the job in flight now (0 or 1)
    fleet_job_next_run_timestamp_seconds        when the schedule fires next (scheduled jobs)

For the service (all jobs share one connection and its throttle budget):

    fleet_arm_requests_total{kind}, fleet_arm_throttled_total, fleet_arm_throttle_wait_seconds_total
    fleet_service_start_time_seconds
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fleet.errors import FleetError
from fleet.history import RunSummary
from fleet.serve.view import ServiceView

_LAST = "fleet_job_last_run_"


def _ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


class _Families:
    """The per-job gauge families, filled job by job."""

    def __init__(self) -> None:
        def gauge(name: str, doc: str, *labels: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=["job", *labels])

        self.targets = gauge(_LAST + "targets", "Targets of the last run by status.", "status")
        self.verdicts = gauge(
            _LAST + "verdict_targets", "Targets of the last run by verdict.", "verdict"
        )
        self.share = gauge(_LAST + "share_passing", "Passing share of checked targets.")
        self.start = gauge(_LAST + "start_timestamp_seconds", "When the last run started.")
        self.end = gauge(_LAST + "end_timestamp_seconds", "When the last run ended.")
        self.duration = gauge(_LAST + "duration_seconds", "How long the last run took.")
        self.completed = gauge(_LAST + "completed", "1 if the last run completed, else 0.")
        self.regressions = gauge(_LAST + "regressions", "Targets newly failing in the last run.")
        self.recovered = gauge(_LAST + "recovered", "Targets recovered in the last run.")
        self.arm = gauge(_LAST + "arm_requests", "ARM requests of the last run.", "kind")
        self.throttled = gauge(_LAST + "arm_throttled", "429s the last run received.")
        self.runs = gauge("fleet_job_runs", "Runs of the job in the journal.")
        self.running = gauge("fleet_job_running", "Runs of the job in flight now.")
        self.next_run = gauge("fleet_job_next_run_timestamp_seconds", "Next scheduled fire.")

    def all(self) -> list[Metric]:
        return list(vars(self).values())


class ServiceCollector(Collector):
    """Collects the service's metrics on every scrape."""

    def __init__(self, service: ServiceView) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        families = _Families()
        history = self.service.history
        next_due = {s.job: s.next_due for s in self.service.schedules()}
        running = Counter(r.job for r in self.service.live())
        names = sorted({j.name for j in self.service.jobs()} | set(history.jobs()))
        for name in names:
            runs = history.runs(name)
            families.runs.add_metric([name], len(runs))
            families.running.add_metric([name], running[name])
            if next_due.get(name) is not None:
                families.next_run.add_metric([name], _ts(next_due[name]) or 0.0)
            finished = [r for r in runs if r.finished]
            if finished:
                self._last_run(families, name, finished[-1])
        yield from families.all()
        yield from self._service_families()

    def _last_run(self, f: _Families, job: str, run: RunSummary) -> None:
        history = self.service.history
        verdicts = history.verdicts(run.run_id)
        for status, n in sorted(Counter(v.status.value for v in verdicts.targets).items()):
            f.targets.add_metric([job, status], n)
        counts = verdicts.counts
        for verdict, n in (
            ("pass", counts.passed),
            ("fail", counts.failed),
            ("skip", counts.skipped),
        ):
            f.verdicts.add_metric([job, verdict], n)
        if counts.share_passing is not None:
            f.share.add_metric([job], counts.share_passing)
        f.start.add_metric([job], run.started_at.timestamp())
        if run.ended_at is not None:
            f.end.add_metric([job], run.ended_at.timestamp())
        f.duration.add_metric([job], run.duration_s or 0.0)
        f.completed.add_metric([job], 1.0 if run.ended == "completed" else 0.0)
        changes = history.changes(run.run_id)
        f.regressions.add_metric([job], len(changes.regressions))
        f.recovered.add_metric([job], len(changes.recovered))
        arm = self._arm_of(run.run_id)
        for kind, n in sorted((arm.get("requests") or {}).items()):
            f.arm.add_metric([job, kind], n)
        f.throttled.add_metric([job], arm.get("throttled") or 0)

    def _arm_of(self, run_id: str) -> dict[str, Any]:
        stored = self.service.history.journal.report_json(run_id) or {}
        arm = stored.get("arm")
        return arm if isinstance(arm, dict) else {}

    def _service_families(self) -> Iterator[Metric]:
        arm = self.service.arm_counters()
        requests = CounterMetricFamily(
            "fleet_arm_requests", "ARM requests of the service, all jobs.", labels=["kind"]
        )
        for kind, n in sorted(arm.requests.items()):
            requests.add_metric([kind], n)
        yield requests
        yield CounterMetricFamily(
            "fleet_arm_throttled", "429s the service received.", arm.throttled
        )
        yield CounterMetricFamily(
            "fleet_arm_throttle_wait_seconds",
            "Time requests waited on throttling.",
            arm.throttle_wait_s,
        )
        started = self.service.info().started_at.timestamp()
        yield GaugeMetricFamily(
            "fleet_service_start_time_seconds", "When the service started.", started
        )


def metrics_registry(service: ServiceView) -> CollectorRegistry:
    """A registry of its own for one app's service (no process-global metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(service))
    return registry


def metrics(request: Request) -> Response:
    """``GET /metrics`` (the app's ``state.metrics_registry``)."""
    try:
        body = generate_latest(request.app.state.metrics_registry)
    except FleetError as exc:
        return Response(f"# fleet: cannot read the journal: {exc}\n", status_code=503)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def metrics_route() -> Route:
    return Route("/metrics", metrics, methods=["GET", "HEAD"])

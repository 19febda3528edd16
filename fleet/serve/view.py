"""What ``fleet serve`` shows: the read-only ``ServiceView`` its web app (``fleet.serve.app``)
and metrics read — the jobs, their schedules' state, the history (``fleet.history.History``),
runs in flight with their latest progress, alerts with their delivery state, and the ARM
counters of the one connection every job shares — and the frozen records it hands out.

Webhook URLs never appear here: a webhook is named by the environment variable it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from fleet.history import History
from fleet.model import AlertKind, ArmCounters, Expectations, Progress, Schedule
from fleet.schedule import ScheduleState


@dataclass(frozen=True)
class JobInfo:
    """A job the service schedules, as loaded from ``--jobs DIR``."""

    name: str
    source: str  # the job file
    description: str
    schedule: Schedule
    expect: Expectations
    webhooks: tuple[str, ...]  # "webhook $VAR" per webhook: never the URL
    alert_on: tuple[AlertKind, ...]


@dataclass(frozen=True)
class LiveRun:
    """A run in flight: its id and job, when it started, the latest progress (None before the
    first snapshot) and how many targets it plans."""

    run_id: str
    job: str
    started_at: datetime
    targets: int
    progress: Progress | None = None
    resumed: bool = False


@dataclass(frozen=True)
class Delivery:
    """One alert to one webhook: ``state`` is pending, delivered or failed (gave up)."""

    webhook: str  # "webhook $VAR"
    state: str
    attempts: int
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class AlertRecord:
    """An alert the service raised for a run (one per kind per run at most)."""

    alert_id: int
    job: str
    run_id: str
    kind: AlertKind
    created_at: datetime
    summary: str  # one line, e.g. "2 targets newly failing: web-003, web-007"
    targets: tuple[str, ...]  # target names concerned
    deliveries: tuple[Delivery, ...] = ()


@dataclass(frozen=True)
class ServiceInfo:
    started_at: datetime
    jobs_dir: str
    state_dir: str
    listen: str
    simulated: bool  # --sim: the emulator runs inside the service
    version: str


class ServiceView(Protocol):
    """Read access to a running ``fleet serve``. Every method is thread-safe; all but
    ``history``'s are cheap (in memory, or one small SQLite query). ``history`` reads the
    journal (SQLite, a run's every target): from an async route, call it in a worker thread
    (``anyio.to_thread.run_sync``) so the service's event loop — which runs the checks — never
    waits on it."""

    @property
    def history(self) -> History: ...

    def info(self) -> ServiceInfo: ...

    def jobs(self) -> Sequence[JobInfo]: ...

    def schedules(self) -> Sequence[ScheduleState]: ...

    def live(self) -> Sequence[LiveRun]:
        """Runs in flight now, oldest first."""
        ...

    def alerts(self, job: str | None = None, limit: int = 50) -> Sequence[AlertRecord]:
        """The latest alerts (of ``job``), newest first."""
        ...

    def arm_counters(self) -> ArmCounters:
        """ARM requests and 429s of the service's connection since it started (all jobs)."""
        ...

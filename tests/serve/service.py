"""A ``ServiceView`` for the dashboard and metrics tests: the real ``History`` over a real journal
holding three runs of a scheduled disk check and one run in flight, plus fixed schedule states,
live progress and alerts (what ``fleet serve``'s own service reports, frozen).

The story the pages must tell: run 1 all pass; in run 2 ``web-003``'s disk is 95% full
and ``web-002`` fails (both newly failing: regressions), ``web-006`` is skipped and the new
``evil-1`` fails, printing an XSS attempt; in run 3 ``web-003`` still fails and ``web-002``
has recovered; run 4 is running.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleet.history import History
from fleet.journal import Journal, RunWriter
from fleet.model import (
    AlertKind,
    ArmCounters,
    Expectations,
    Progress,
    RunReport,
    Schedule,
    Status,
    Target,
    TargetResult,
    ValueCheck,
)
from fleet.report.json_report import report_to_dict
from fleet.schedule import FireOutcome, FireRecord, ScheduleState
from fleet.serve.view import AlertRecord, Delivery, JobInfo, LiveRun, ServiceInfo
from tests.journal import FakeClock, make_spec, make_target

XSS = "<script>alert('owned')</script><img src=x onerror=alert(1)>"
DISK = Expectations(values=(ValueCheck("disk_used_pct", r"used=(\d+)%", max=90),))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
EVERY = Schedule(every_s=60)
TARGETS = [make_target(i, name=f"web-{i:03d}") for i in range(1, 7)]
EVIL = make_target(99, name="evil-1")

#: Per run: target name -> (status, disk used %).
RUNS: dict[str, dict[str, tuple[Status, int]]] = {
    "run-1": {t.name: (Status.SUCCEEDED, 40) for t in TARGETS},
    "run-2": {
        **{t.name: (Status.SUCCEEDED, 41) for t in TARGETS},
        "web-003": (Status.SUCCEEDED, 95),
        "web-002": (Status.FAILED, 40),
        "web-006": (Status.SKIPPED, 0),
    },
    "run-3": {
        **{t.name: (Status.SUCCEEDED, 42) for t in TARGETS},
        "web-003": (Status.SUCCEEDED, 96),
    },
}


def _result(target: Target, status: Status, used: int, started: datetime) -> TargetResult:
    if status is Status.SKIPPED:
        return TargetResult(target, status, reason="VM is deallocated")
    output = f"== health check: {target.name} ==\ndisk /: used={used}%\nstatus: OK\n"
    code = 0 if status is Status.SUCCEEDED else 2
    return TargetResult(
        target, status, exit_code=code, output=output, error="" if code == 0 else "agent down\n",
        execution_state=status.value, started_at=started, ended_at=started + timedelta(seconds=20),
        attempts=1, polls=1,
    )  # fmt: skip


def record_runs(journal: Journal) -> RunWriter:
    """Runs 1-3 and a patch run, ended; run 4 begun, with its writer (keep it open: running)."""
    spec = dataclasses.replace(make_spec("disk-check"), expect=DISK, schedule=EVERY)
    by_name = {t.name: t for t in [*TARGETS, EVIL]}
    for index, (run_id, outcomes) in enumerate(RUNS.items()):
        started = T0 + timedelta(minutes=index)
        targets = [by_name[n] for n in outcomes] + ([EVIL] if run_id == "run-2" else [])
        results = [_result(by_name[n], s, used, started) for n, (s, used) in outcomes.items()]
        if run_id == "run-2":
            evil = TargetResult(
                EVIL, Status.FAILED, exit_code=1, output=f"{XSS}\nused=10%\n",
                reason=f"script said {XSS}", started_at=started, ended_at=started,
            )  # fmt: skip
            results.append(evil)
        with journal.begin_run(run_id, spec, targets) as writer:
            for result in results:
                writer.final(result)
            report = RunReport(
                run_id, spec.name, started, started + timedelta(seconds=30), tuple(results),
                ArmCounters(requests={"reads": 20 + index, "writes": 7}, throttled=index),
                expect=DISK,
            )  # fmt: skip
            writer.end("completed", {"total": len(results)}, report_to_dict(report))
    other = dataclasses.replace(make_spec("patch"), expect=Expectations())
    with journal.begin_run("patch-1", other, TARGETS[:2]) as writer:
        for t in TARGETS[:2]:
            writer.final(_result(t, Status.SUCCEEDED, 1, T0))
        writer.end("completed", {"total": 2})
    running = journal.begin_run("run-4", spec, TARGETS)
    running.final(_result(TARGETS[0], Status.SUCCEEDED, 40, T0 + timedelta(minutes=3)))
    return running


@dataclass
class StaticService:
    """``ServiceView`` with a real history and fixed everything else."""

    history: History
    started: datetime = T0
    live_runs: list[LiveRun] = field(default_factory=list)
    arm: ArmCounters = field(
        default_factory=lambda: ArmCounters({"reads": 120, "writes": 40}, 3, 2.5)
    )

    def info(self) -> ServiceInfo:
        return ServiceInfo(
            self.started, "configs/serve-demo", "/state", "127.0.0.1:0", True, "0.1.0"
        )

    def jobs(self) -> Sequence[JobInfo]:
        return [
            JobInfo("disk-check", "jobs/disk-check.yaml", "Disk space on the web tier", EVERY, DISK,
                    ("webhook $ALERT_URL",), (AlertKind.REGRESSION, AlertKind.RECOVERY)),
            JobInfo(f"<b>{XSS}</b>", "jobs/evil.yaml", XSS, EVERY, Expectations(), (), ()),
        ]  # fmt: skip

    def schedules(self) -> Sequence[ScheduleState]:
        fire = FireRecord("disk-check", T0 + timedelta(minutes=3), T0 + timedelta(minutes=3),
                          FireOutcome.LAUNCHED, run_id="run-4")  # fmt: skip
        skipped = FireRecord("disk-check", T0 + timedelta(minutes=2, seconds=30), T0,
                             FireOutcome.OVERLAP, detail="run-3 still running")  # fmt: skip
        return [
            ScheduleState("disk-check", EVERY, T0 + timedelta(minutes=4), T0 + timedelta(minutes=4),
                          None, fire, (fire, skipped)),
            ScheduleState(f"<b>{XSS}</b>", EVERY, None, None, None, None, ()),
        ]  # fmt: skip

    def live(self) -> Sequence[LiveRun]:
        return self.live_runs

    def alerts(self, job: str | None = None, limit: int = 50) -> Sequence[AlertRecord]:
        alert = AlertRecord(
            1, "disk-check", "run-2", AlertKind.REGRESSION, T0 + timedelta(minutes=1, seconds=31),
            "1 target newly failing: web-003", ("web-003",),
            (Delivery("webhook $ALERT_URL", "delivered", 1, None, T0 + timedelta(minutes=2)),),
        )  # fmt: skip
        return [a for a in [alert] if job in (None, a.job)][:limit]

    def arm_counters(self) -> ArmCounters:
        return self.arm


@contextlib.contextmanager
def running_service(state: Path) -> Iterator[StaticService]:
    """The service over a fresh journal in ``state``, run 4 in flight while it is open."""
    journal = Journal.open(state, now=FakeClock(T0))
    with journal, record_runs(journal):
        yield _service(journal)


def _service(journal: Journal) -> StaticService:
    progress = Progress(total=6, launched=4, running=3, succeeded=1, elapsed_s=12.0)
    live = LiveRun("run-4", "disk-check", T0 + timedelta(minutes=3), 6, progress)
    return StaticService(History(journal), live_runs=[live])

"""What happened: per-target outcomes (``Status``, ``TargetResult``), the run's ``RunReport``
with its ARM cost (``ArmCounters``) and storage cost, and ``Progress`` snapshots of a run in
flight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fleet.model.expect import Expectations, Judgement
from fleet.model.hygiene import Deleted
from fleet.model.output import FullOutput, StorageCounters
from fleet.model.reboot import RebootRecord
from fleet.model.rollout import RolloutRecord
from fleet.model.script import ScriptIdentity
from fleet.model.status import Status
from fleet.model.targets import Target


@dataclass(frozen=True)
class TargetResult:
    target: Target
    status: Status
    reason: str | None = None
    exit_code: int | None = None
    output: str = ""
    error: str = ""
    execution_state: str | None = None  # Azure's executionState, verbatim
    started_at: datetime | None = None
    ended_at: datetime | None = None
    attempts: int = 0  # PUTs sent for this target (including retries)
    polls: int = 0  # GETs sent for this target
    deleted: tuple[Deleted, ...] = ()  # run commands fleet deleted on this target in this run
    full_output: FullOutput | None = None  # read from its output blobs (output storage)
    reboot: RebootRecord | None = None  # a reboot its script required (rollout.reboot)


@dataclass(frozen=True)
class ArmCounters:
    """What the run cost in ARM requests."""

    requests: dict[str, int] = field(default_factory=dict)  # kind ("reads"/"writes"/...) -> count
    throttled: int = 0  # 429s received
    throttle_wait_s: float = 0.0  # time requests spent waiting on local buckets or Retry-After
    retries: int = 0


@dataclass(frozen=True)
class RunReport:
    run_id: str
    job: str
    started_at: datetime
    finished_at: datetime
    results: tuple[TargetResult, ...]
    arm: ArmCounters
    # completed | halted-by-error-budget | halted-by-gate | deadline | canceled
    ended: str = "completed"
    ended_detail: str | None = None  # e.g. which gate tripped, after which batch
    rollout: RolloutRecord | None = None
    simulated: bool = False  # run against fleet's Azure emulator (--sim), not Azure
    script: tuple[ScriptIdentity, ...] = ()  # what was sent, per OS variant
    expect: Expectations = field(default_factory=Expectations)  # the job's, for the verdicts

    def judgements(self) -> tuple[Judgement, ...]:
        """Each result's verdict under the job's expectations, in ``results`` order."""
        return tuple(self.expect.judge(r) for r in self.results)

    cleanup: str = "keep-last"  # the cleanup policy (what fleet deleted: each target's deleted)
    storage: StorageCounters | None = None  # output storage requests (None: no output storage)
    reboot: str = "never"  # the reboot policy (what happened: each target's reboot)


@dataclass(frozen=True)
class Progress:
    """A snapshot of a run in flight, for progress displays (emitted by the engine)."""

    total: int  # selected targets
    skipped: int = 0  # decided without a write (not running, excluded by preflight)
    launched: int = 0  # run command accepted by Azure
    running: int = 0  # launched and not yet final
    rebooting: int = 0  # of those running: their script is done, their VM restarting / awaited
    succeeded: int = 0
    failed: int = 0  # every final status but Succeeded, Skipped and NotStarted
    not_started: int = 0  # the rollout stopped before launching them (not failures)
    throttled: int = 0  # 429s received so far
    throttle_wait_s: float = 0.0
    elapsed_s: float = 0.0

    @property
    def done(self) -> int:
        return self.skipped + self.succeeded + self.failed + self.not_started

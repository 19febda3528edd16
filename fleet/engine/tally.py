"""A run's per-target bookkeeping: the one place a target changes state.

The executor reports LAUNCHED (and LAUNCHING, REBOOTING, CANCELING) through
:meth:`Tally.transition`; the runner reports every final result through :meth:`Tally.finish`,
which keeps it, records it in the journal (``Recorder.final``), logs ``target.finished`` and
tells the observer. The counts behind ``Progress`` snapshots follow from those transitions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from fleet.engine.execute import TargetState
from fleet.model import ArmCounters, Progress, Status, Target, TargetResult
from fleet.ports import Clock, Recorder, RunObserver
from fleet.util import failpoints

log = structlog.get_logger("fleet.engine")


@dataclass
class _Counts:
    skipped: int = 0
    launched: int = 0
    running: int = 0
    rebooting: int = 0
    succeeded: int = 0
    failed: int = 0
    not_started: int = 0


class Tally:
    def __init__(
        self,
        *,
        total: int,
        recorder: Recorder,
        observer: RunObserver,
        arm_counters: Callable[[], ArmCounters],
        clock: Clock,
    ) -> None:
        self.total, self.recorder, self.observer = total, recorder, observer
        self.arm_counters, self.clock = arm_counters, clock
        self._counts = _Counts()
        self._results: dict[str, TargetResult] = {}
        self._launched: set[str] = set()
        self._rebooting: set[str] = set()
        self._t0 = 0.0

    def start(self) -> None:
        """The run starts now (progress counts elapsed time from here)."""
        self._t0 = self.clock.now()

    @property
    def running(self) -> int:
        return self._counts.running

    def has(self, target: Target) -> bool:
        return target.id.lower() in self._results

    def result(self, target: Target) -> TargetResult:
        return self._results[target.id.lower()]

    def transition(
        self, target: Target, state: TargetState, result: TargetResult | None = None
    ) -> None:
        """A target's state changed (progress counts follow; a FINAL carries its result)."""
        key = target.id.lower()
        if state is TargetState.LAUNCHED:
            self._launched.add(key)
            self._counts.launched += 1
            self._counts.running += 1
        elif state is TargetState.REBOOTING and key not in self._rebooting:
            self._rebooting.add(key)
            self._counts.rebooting += 1
        elif state is TargetState.FINAL and result is not None:
            self._results[key] = result
            if key in self._launched:
                self._counts.running -= 1
            if key in self._rebooting:
                self._counts.rebooting -= 1
            if result.status is Status.SUCCEEDED:
                self._counts.succeeded += 1
            elif result.status is Status.SKIPPED:
                self._counts.skipped += 1
            elif result.status is Status.NOT_STARTED:  # the rollout stopped: not a failure
                self._counts.not_started += 1
            else:
                self._counts.failed += 1

    def finish(self, result: TargetResult, *, record: bool = True) -> None:
        """``result`` is final; ``record``: journal it (not when it was journaled before)."""
        self.transition(result.target, TargetState.FINAL, result)
        if record:
            self.recorder.final(result)
            failpoints.hit("after-final")
        log.info(
            "target.finished",
            target=result.target.name,
            status=result.status.value,
            exit_code=result.exit_code,
            reason=result.reason,
            polls=result.polls,
        )
        self.observer.target_finished(result)

    def snapshot(self) -> Progress:
        arm = self.arm_counters()
        c = self._counts
        return Progress(
            total=self.total,
            skipped=c.skipped,
            launched=c.launched,
            running=c.running,
            rebooting=c.rebooting,
            succeeded=c.succeeded,
            failed=c.failed,
            not_started=c.not_started,
            throttled=arm.throttled,
            throttle_wait_s=arm.throttle_wait_s,
            elapsed_s=self.clock.now() - self._t0,
        )

"""The scheduler: one task per target under a concurrency limit; launch (PUT) → budgeted polls
(GET with instance view) → final outcome. Structured concurrency only (one anyio task group).

Exactly-once rule: after Azure accepted a PUT, the target is never PUT again. If a PUT's fate is
unknown (connection lost, 5xx after the SDK's retries), the run command is read first and only
re-sent when Azure proves the first never arrived (no resource carrying this run's id).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import anyio
import structlog

from fleet.engine.invocation import invocation_for, redact, secret_values
from fleet.engine.outcome import status_for_put_error, status_for_view
from fleet.engine.polling import PollPlanner, PollSettings
from fleet.model import (
    ArmCounters,
    CallError,
    Invocation,
    JobSpec,
    Progress,
    RunView,
    Status,
    Target,
    TargetResult,
)
from fleet.ports import Clock, RunCommands

log = structlog.get_logger("fleet.engine")
_EPSILON = 1e-3  # of min_gap: a wait this short is due now (float noise must not spin loops)


@dataclass(frozen=True)
class EngineSettings:
    time_scale: float = 1.0  # >1 only against an emulator running K times faster than Azure
    poll: PollSettings = field(default_factory=PollSettings)
    wedge_grace_s: float = 120.0  # Azure-seconds past the script timeout before "Wedged"
    put_unknown_retries: int = 3  # re-reads of a PUT whose fate is unknown before giving up
    progress_interval_s: float = 0.25  # wall seconds between progress callbacks


class AnyioClock:
    def now(self) -> float:
        return anyio.current_time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


@dataclass
class _Counts:
    skipped: int = 0
    launched: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0


class Runner:
    def __init__(
        self,
        spec: JobSpec,
        run_commands: RunCommands,
        *,
        run_id: str,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        arm_counters: Callable[[], ArmCounters] | None = None,
    ) -> None:
        self.spec = spec
        self.rc = run_commands
        self.run_id = run_id
        self.settings = settings or EngineSettings()
        self.clock = clock or AnyioClock()
        self.on_progress = on_progress
        self.arm_counters = arm_counters or ArmCounters
        self.planner = PollPlanner(self.settings.poll.scaled(self.settings.time_scale))
        self._secrets = secret_values(spec)
        self._counts = _Counts()
        self._results: dict[str, TargetResult] = {}
        self._total = 0
        self._t0 = 0.0

    async def run(
        self, targets: Sequence[Target], skipped: Sequence[TargetResult] = ()
    ) -> list[TargetResult]:
        """Run the job on ``targets``; ``skipped`` are already-final results (e.g. not running)."""
        self._t0 = self.clock.now()
        self._total = len(targets) + len(skipped)
        for result in skipped:
            self._finish(result)
        limit = anyio.CapacityLimiter(self.spec.concurrency.resolve(len(targets) or 1))
        async with anyio.create_task_group() as tg:
            if self.on_progress is not None:
                tg.start_soon(self._progress_loop)
            async with anyio.create_task_group() as targets_tg:
                for target in targets:
                    targets_tg.start_soon(self._guarded, target, limit)
            tg.cancel_scope.cancel()
        self._emit_progress()
        return [self._results[t.id.lower()] for t in (*(r.target for r in skipped), *targets)]

    async def _guarded(self, target: Target, limit: anyio.CapacityLimiter) -> None:
        async with limit:
            try:
                result = await self._one(target)
            except Exception as exc:  # a bug or an unexpected SDK error: data, not a crash
                reason = self._redact(f"{type(exc).__name__}: {exc}")
                log.error("target.error", target=target.id, reason=reason)
                result = TargetResult(target, Status.ERROR, reason=reason)
        self._finish(result)

    async def _one(self, target: Target) -> TargetResult:
        invocation = invocation_for(self.spec, target, self.run_id)
        if invocation is None:
            reason = f"the job has no script for OS {target.os or 'unknown'}"
            return TargetResult(target, Status.SKIPPED, reason=reason)
        started = datetime.now(UTC)
        err, attempts = await self._launch(target, invocation)
        launched_at = self.clock.now()  # after the PUT: time spent throttled is not run time
        if err is not None:
            status, reason = status_for_put_error(err)
            reason = self._redact(reason)
            log.info("target.refused", target=target.id, status=status.value, reason=reason)
            return TargetResult(
                target,
                status,
                reason=reason,
                attempts=attempts,
                started_at=started,
                ended_at=datetime.now(UTC),
            )
        self._counts.launched += 1
        self._counts.running += 1
        try:
            result = await self._watch(target, invocation, launched_at)
        finally:
            self._counts.running -= 1
        return replace(result, attempts=attempts)

    async def _launch(self, target: Target, inv: Invocation) -> tuple[CallError | None, int]:
        """PUT once; when its fate is unknown, read before ever sending it again."""
        attempts = 0
        for _ in range(self.settings.put_unknown_retries + 1):
            attempts += 1
            err = await self.rc.put(target, inv)
            if err is None or not err.transient:
                return err, attempts
            log.warning("target.put_unknown", target=target.id, status=err.status, code=err.code)
            arrived = await self._arrived(target, inv)
            if arrived is None:  # still unknown: re-sending could run the script twice
                reason = "the run command's fate is unknown (it may have run); not re-sent"
                return CallError(err.status, err.code, f"{reason}: {err.message}"), attempts
            if arrived:
                return None, attempts  # it did arrive: never PUT it twice
        return err, attempts

    async def _arrived(self, target: Target, inv: Invocation) -> bool | None:
        """Whether a PUT of unknown fate reached Azure: True/False when a read proves it,
        None when every read failed too."""
        for attempt in range(self.settings.put_unknown_retries + 1):
            if attempt:
                await self.clock.sleep(self.planner.settings.min_gap_s * 2**attempt)
            view = await self.rc.get(target, inv.run_command)
            if isinstance(view, RunView):
                return view.run_id == inv.run_id  # another id: an earlier run's resource
            if view.status == 404:
                return False
        return None

    def _deadline(self, inv: Invocation, launched_at: float) -> float:
        azure_s = inv.timeout_s + self.settings.wedge_grace_s
        return launched_at + azure_s / self.settings.time_scale

    async def _watch(self, target: Target, inv: Invocation, launched_at: float) -> TargetResult:
        key, deadline = target.id.lower(), self._deadline(inv, launched_at) - launched_at
        polls, seen_running, last_read = 0, 0.0, 0.0
        view: RunView | None = None  # the last instance view read successfully
        try:
            while True:
                await self._wait_for_poll(key, launched_at, seen_running, last_read, deadline)
                last = await self.rc.get(target, inv.run_command)
                polls += 1
                last_read = self.clock.now() - launched_at
                if isinstance(last, RunView) and last.terminal:
                    self.planner.observe_completion(key, last_read, seen_running)
                    return self._from_view(target, last, polls)
                if isinstance(last, RunView):
                    view, seen_running = last, last_read
                    self.planner.observe_running(key, last_read)
                elif not (last.transient or last.status == 429):
                    status, reason = status_for_put_error(last)
                    reason = f"reading the result: {reason}"
                    return TargetResult(target, status, reason=self._redact(reason), polls=polls)
                if last_read >= deadline - _EPSILON * self.planner.settings.min_gap_s:
                    return self._overdue(target, view, polls)
        finally:
            self.planner.release(key)

    async def _wait_for_poll(
        self, key: str, launched_at: float, seen_running: float, last_read: float, deadline: float
    ) -> None:
        """Sleep until the planner says ``key`` is due (it re-plans as it learns)."""
        poll = self.planner.settings
        while True:
            due = self.planner.next_poll_at(key, seen_running)
            due = min(max(due, last_read + poll.min_gap_s), deadline)
            wait = due - (self.clock.now() - launched_at)
            if wait <= _EPSILON * poll.min_gap_s:  # float noise must not spin the loop
                return
            await self.clock.sleep(self.planner.sleep_before_asking_again(wait))

    def _overdue(self, target: Target, view: RunView | None, polls: int) -> TargetResult:
        if view is not None and view.execution_state == "Running":
            reason = "still Running past its timeout plus grace: the command is wedged"
            return self._from_view(target, view, polls, Status.WEDGED, reason)
        if view is not None:
            reason = f"still {view.execution_state} past its timeout (agent not picking it up?)"
            return self._from_view(target, view, polls, Status.TIMED_OUT, reason)
        return TargetResult(
            target, Status.ERROR, reason="no readable result before the timeout", polls=polls
        )

    def _from_view(
        self,
        target: Target,
        view: RunView,
        polls: int,
        status: Status | None = None,
        reason: str | None = None,
    ) -> TargetResult:
        if status is None:
            status, reason = status_for_view(view)
        return TargetResult(
            target,
            status,
            reason=reason and self._redact(reason),
            exit_code=view.exit_code,
            output=self._redact(view.output),
            error=self._redact(view.error),
            execution_state=view.execution_state,
            started_at=view.start_time,
            ended_at=view.end_time,
            polls=polls,
        )

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def _finish(self, result: TargetResult) -> None:
        self._results[result.target.id.lower()] = result
        if result.status is Status.SUCCEEDED:
            self._counts.succeeded += 1
        elif result.status is Status.SKIPPED:
            self._counts.skipped += 1
        else:
            self._counts.failed += 1
        log.info(
            "target.finished",
            target=result.target.name,
            status=result.status.value,
            exit_code=result.exit_code,
            reason=result.reason,
            polls=result.polls,
        )

    def snapshot(self) -> Progress:
        arm = self.arm_counters()
        c = self._counts
        return Progress(
            total=self._total,
            skipped=c.skipped,
            launched=c.launched,
            running=c.running,
            succeeded=c.succeeded,
            failed=c.failed,
            throttled=arm.throttled,
            throttle_wait_s=arm.throttle_wait_s,
            elapsed_s=self.clock.now() - self._t0,
        )

    def _emit_progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.snapshot())

    async def _progress_loop(self) -> None:
        while True:
            self._emit_progress()
            await anyio.sleep(self.settings.progress_interval_s)

"""A virtual wall clock for the scheduler: ``sleep`` moves time forward at once (no real
waiting), and the run ends when time reaches ``until``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio
import anyio.lowlevel

from fleet.schedule import FireLog, Firing, LocalScheduler, ScheduledJob


class VirtualClock:
    def __init__(self, start: datetime, until: datetime) -> None:
        self.moment = start
        self.until = until
        self.jumps: dict[datetime, timedelta] = {}  # at this moment, time leaps (a suspend)
        self.scope: anyio.CancelScope | None = None
        self.sleeps = 0

    def now(self) -> datetime:
        return self.moment

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        assert self.sleeps < 100_000, "the scheduler does not move time forward"
        self.moment += timedelta(seconds=seconds)
        for at in sorted(self.jumps):
            if self.moment >= at:
                self.moment += self.jumps.pop(at)
        if self.moment >= self.until and self.scope is not None:
            self.scope.cancel()
        await anyio.lowlevel.checkpoint()


@dataclass
class FakeLauncher:
    """Launches at once; a run lasts ``run_s`` virtual seconds (None: ends before the next
    check). ``fail`` makes launching raise."""

    clock: VirtualClock
    run_s: float | None = None
    fail: bool = False
    launched: list[Firing] = field(default_factory=list)
    busy_until: datetime | None = None

    def launch(self, firing: Firing) -> str | None:
        if self.fail:
            raise RuntimeError("the spec cannot be read")
        now = self.clock.now()
        if self.busy_until is not None and now < self.busy_until:
            return None
        self.launched.append(firing)
        if self.run_s is not None:
            self.busy_until = now + timedelta(seconds=self.run_s)
        return f"run-{len(self.launched)}"


def drive(
    jobs: Sequence[ScheduledJob],
    fires: FireLog,
    clock: VirtualClock,
    launcher: FakeLauncher,
) -> LocalScheduler:
    """Run the scheduler on ``clock`` until its ``until``."""
    scheduler = LocalScheduler(fires, clock)

    async def main() -> None:
        with anyio.CancelScope() as scope:
            clock.scope = scope
            await scheduler.run(jobs, launcher)

    anyio.run(main)
    return scheduler

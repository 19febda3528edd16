"""Budgeted polling: when to read a launched run command's instance view next.

Reads are the scarce resource (25/s per subscription and principal), so a target should be read
about once, right after it finishes — not every few seconds. The planner learns how long targets
take (:class:`fleet.engine.durations.DurationModel`, which counts the still-running targets as
well as the finished ones) and reads a target that survived to ``elapsed`` again when only
``keep`` of the targets alive at ``elapsed`` are expected to be still running. With a model that
fits, a target is read ``1 / (1 - keep)`` times on average (1.54 for keep = 0.35).

Before ``learn_after`` completions only a few ``scouts`` probe (a short first delay growing
geometrically); every other target waits (re-asking every ``recheck_s``) until the scouts have
taught the model enough, instead of spending reads on blind probes.

All times are engine seconds (``time_scale`` divides Azure-second constants, so an emulator
running K times faster is polled K times faster; it is 1 against real Azure).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fleet.engine.durations import DurationModel
from fleet.ports import Clock

EPSILON = 1e-3  # of min_gap: a wait this short is due now (float noise must not spin loops)


@dataclass(frozen=True)
class PollSettings:
    first_delay_s: float = 3.0  # a scout's first probe, before anything is known
    growth: float = 1.6  # geometric back-off while probing
    min_gap_s: float = 1.0  # never poll one target more often than this
    max_gap_s: float = 300.0  # never leave a target unread longer than this
    learn_after: int = 3  # completions needed before model-based scheduling starts
    keep: float = 0.35  # fraction of the targets alive at a read still running at the next
    scouts: int = 5  # targets that probe while nothing is learned; the rest wait for them
    recheck_s: float = 5.0  # how often a waiting target re-asks while nothing is learned

    def scaled(self, time_scale: float) -> PollSettings:
        k = max(time_scale, 1e-9)
        return replace(
            self,
            first_delay_s=self.first_delay_s / k,
            min_gap_s=self.min_gap_s / k,
            max_gap_s=self.max_gap_s / k,
            recheck_s=self.recheck_s / k,
        )


@dataclass
class PollPlanner:
    settings: PollSettings = field(default_factory=PollSettings)
    model: DurationModel = field(default_factory=DurationModel)
    _scouts: set[str] = field(default_factory=set)

    def observe_running(self, key: str, elapsed: float) -> None:
        """A poll ``elapsed`` seconds after launch saw target ``key`` still running."""
        self.model.running(key, elapsed)

    def observe_completion(self, key: str, elapsed: float, previous_poll_elapsed: float) -> None:
        """A poll at ``elapsed`` saw ``key`` finished; the previous one (or launch, 0) did not."""
        self.model.finished(key, elapsed, previous_poll_elapsed)
        self._scouts.discard(key)

    def release(self, key: str) -> None:
        """``key`` is no longer watched (finished, failed or abandoned): free its scout slot."""
        self._scouts.discard(key)

    @property
    def learned(self) -> int:
        return self.model.completions

    def next_poll_at(self, key: str, last_seen_running: float) -> float:
        """When (seconds since launch) to read ``key`` next; it was last seen running at
        ``last_seen_running`` (0 = launch, never read). Ask again after waking early: the
        answer moves as the planner learns.
        """
        s, e = self.settings, last_seen_running
        if self.model.completions >= s.learn_after:
            self.model.refresh()
            due = self.model.quantile(1.0 - self.model.survival(e) * s.keep)
        elif self._is_scout(key):
            due = max(s.first_delay_s, e * s.growth)
        else:
            due = e + s.max_gap_s  # wait for the scouts rather than probe blind
        return min(max(due, e + s.min_gap_s), e + s.max_gap_s)

    def sleep_before_asking_again(self, wait: float) -> float:
        """How much of a ``wait`` a target sleeps before re-asking: short while the scouts are
        out (learning may start any moment), a quarter of it later (the model moves slowly)."""
        s = self.settings
        if self.model.completions < s.learn_after:
            return min(wait, s.recheck_s)
        return min(wait, max(s.recheck_s, wait / 4))

    def _is_scout(self, key: str) -> bool:
        if key not in self._scouts and len(self._scouts) < self.settings.scouts:
            self._scouts.add(key)
        return key in self._scouts


async def sleep_until_due(
    planner: PollPlanner, clock: Clock, key: str, since: float, seen: float, last: float, at: float
) -> None:
    """Sleep until ``planner`` says ``key`` is due for a read (it re-plans as it learns), never
    past ``at``. Engine seconds after ``since`` (the launch): ``seen`` is the last read that saw
    it still going (0 = none), ``last`` the last read of all."""
    poll = planner.settings
    while True:
        due = planner.next_poll_at(key, seen)
        due = min(max(due, last + poll.min_gap_s), at)
        wait = due - (clock.now() - since)
        if wait <= EPSILON * poll.min_gap_s:  # float noise must not spin the loop
            return
        await clock.sleep(planner.sleep_before_asking_again(wait))

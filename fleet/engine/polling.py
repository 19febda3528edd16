"""Budgeted polling: when to read a launched run command's instance view next.

Reads are the scarce resource (25/s per subscription and principal), so a target should be read
about once, right after it finishes — not every few seconds. The planner learns how long targets
take (:class:`fleet.engine.durations.DurationModel`, which counts the still-running targets as
well as the finished ones) and reads a target that survived to ``elapsed`` again when only
``keep`` of the targets alive at ``elapsed`` are expected to be still running. With a model that
fits, a target is read ``1 / (1 - keep)`` times on average (1.25 for keep = 0.2).

A waiting target re-asks when to read (the answer moves as the model learns) a quarter of its wait
later; once ``settled_after`` targets are done the model moves little, and a target without a
history of its own sleeps its whole wait: one wake-up per read, not ~7 (issue #16: a 10,000-target
run woke its waiting targets ~110,000 times, ~11 per target).

**The launch's last targets.** ``keep`` trades reads for how soon a finished target is seen; only
the targets launched last make the run longer by being seen late. So once fewer targets are left to
launch than are watched (the runner says how many it launches: ``launching``), a target without a
history of its own is read by ``tail_keep`` instead, and re-asks as the model moves: on mixed-10k
keep = 0.2 throughout cost ~3 % of the makespan (405 s against 393 s), this gives it back for a few
hundred targets' extra reads.

Before ``learn_after`` completions only a few ``scouts`` probe (a short first delay growing
geometrically); every other target waits (re-asking every ``recheck_s``) until the scouts have
taught the model enough, instead of spending reads on blind probes.

With the job's history (``expect``), a target with a history of its own has its own time
distribution: its agent's ``pickup_s`` plus a log-normal run time around its expectation (the
job's ``Forecast``). It is first read when that says it is done with ``history_quantile``
probability, so most targets are read once; one still running then is read by the same rule as
the learned model's, on its own distribution (a short script seen running is read again
seconds later, not when the fleet's typical script would be done); one running past the 99th
percentile of its own distribution is planned by the learned model as above. The planner is
keyed by target, not by what is read: an action run command's operation (the handle its POST
answered) is planned the same way. Completion seen in storage (``fleet.engine.storage_watch``)
does not ask it while a record can come; only a blind watcher's fallback to ARM polling does.

**Spare reads at the tail** (issue #16). Those rules space reads for a busy run, where every read
counts; at a run's end a handful of targets are left while the read budget sits idle, and a target
past its expectation (or a short one launched last) is seen many seconds after it ended. So each
target's next read is *booked* (``book``: the clock's time), and while the reads booked for the next
``tail_window_s`` leave room under ``tail_reads_per_s`` (``room``), a target with a history of its
own is read sooner (``hurry``): seen running, again ``tail_gap_s`` later (or ``tail_lag`` of its
time so far, or what re-reading every watched target would cost at that pace, if more); not read yet
and among the last few watched, first at its ``early_quantile`` instead of its ``history_quantile``.
The booked reads include the hurried ones, so the tail never plans more than ``tail_reads_per_s``;
with a busy budget, many targets watched, no history, or a target far past its own range (a dead
agent), the spacing above holds. The default 8 reads per second is a third of ARM's 25 per
subscription and principal (azure-reference README, "Throttling limits"); one target re-read every 2
s meets Compute's per-VM Low Cost Get bucket (36, refilling 12 a minute) only after about 40 s of
it, and fleet's client-side limiter spaces its reads from then on.

All times are engine seconds (``time_scale`` divides Azure-second constants, so an emulator
running K times faster is polled K times faster; it is 1 against real Azure).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from statistics import NormalDist

from fleet.engine.durations import DurationModel
from fleet.model import Forecast, Target
from fleet.ports import Clock

EPSILON = 1e-3  # of min_gap: a wait this short is due now (float noise must not spin loops)
_STD = NormalDist()
_OWN_UNTIL = 0.99  # past this quantile of its own distribution a target is the fleet's again
TAIL_UNTIL = 2.0  # past this multiple of that quantile a target's reads are never hurried


@dataclass(frozen=True)
class PollSettings:
    first_delay_s: float = 3.0  # a scout's first probe, before anything is known
    growth: float = 1.6  # geometric back-off while probing
    min_gap_s: float = 1.0  # never poll one target more often than this
    max_gap_s: float = 300.0  # never leave a target unread longer than this
    learn_after: int = 3  # completions needed before model-based scheduling starts
    # Fraction of the targets alive at a read still running at the next: 1 / (1 - keep) reads
    # per target. 0.2 (1.25 reads) rather than the 0.35 (1.54) of earlier versions (issue #16):
    # reads, ~35 % of the client's CPU, fell from ~1.5 to ~1.3 per target on mixed-10k; the
    # launch's last targets, which end the run, are read by ``tail_keep``, so the makespan holds.
    keep: float = 0.2
    settled_after: int = 100  # completions after which the model's answer moves little
    scouts: int = 5  # targets that probe while nothing is learned; the rest wait for them
    recheck_s: float = 5.0  # how often a waiting target re-asks while nothing is learned
    # With history: the first read comes this long (Azure-seconds: the VM agent picking the
    # command up, which the history's run times do not include) plus the run time the target's
    # runs stay under with this probability.
    pickup_s: float = 3.0
    history_quantile: float = 0.8
    # Spare reads at the tail (see the module doc; 0 reads per second: never hurried).
    tail_reads_per_s: float = 8.0
    tail_window_s: float = 4.0
    tail_gap_s: float = 2.0
    tail_lag: float = 0.1
    early_quantile: float = 0.5
    # The end of the launch (see "The launch's last targets" in the module doc): ``keep`` then.
    tail_keep: float = 0.35

    def scaled(self, time_scale: float) -> PollSettings:
        k = max(time_scale, 1e-9)
        return replace(
            self,
            first_delay_s=self.first_delay_s / k,
            min_gap_s=self.min_gap_s / k,
            max_gap_s=self.max_gap_s / k,
            recheck_s=self.recheck_s / k,
            pickup_s=self.pickup_s / k,
            tail_reads_per_s=self.tail_reads_per_s * k,
            tail_window_s=self.tail_window_s / k,
            tail_gap_s=self.tail_gap_s / k,
        )


@dataclass(frozen=True)
class Expectation:
    """One target's launch-to-done time from its history: ``pickup_s`` plus a log-normal run
    time with median ``median_s`` and log-sd ``spread`` (engine seconds)."""

    pickup_s: float
    median_s: float
    spread: float

    def quantile(self, p: float) -> float:
        z = _STD.inv_cdf(min(max(p, 1e-6), 1 - 1e-6))
        return self.pickup_s + self.median_s * math.exp(z * self.spread)

    def survival(self, elapsed: float) -> float:
        """The probability the target is still running ``elapsed`` seconds after launch."""
        if elapsed <= self.pickup_s:
            return 1.0
        z = math.log((elapsed - self.pickup_s) / self.median_s) / max(self.spread, 1e-6)
        return 1.0 - _STD.cdf(z)


def expectations(
    forecast: Forecast, targets: list[Target], settings: PollSettings, time_scale: float
) -> dict[str, Expectation]:
    """Each target with a history of its own: its ``Expectation`` in engine seconds
    (``settings`` already scaled; the forecast is in Azure-seconds)."""
    k = max(time_scale, 1e-9)
    return {
        t.id.lower(): Expectation(
            settings.pickup_s, forecast.expected_s(t.id) / k, forecast.spread_of(t.id)
        )
        for t in targets
        if forecast.known(t.id)
    }


@dataclass
class PollPlanner:
    settings: PollSettings = field(default_factory=PollSettings)
    model: DurationModel = field(default_factory=DurationModel)
    _scouts: set[str] = field(default_factory=set)
    _own: Mapping[str, Expectation] = field(default_factory=dict)  # see ``expect``
    _booked: dict[str, float] = field(default_factory=dict)  # key -> its next read (clock time)
    _times: list[float] = field(default_factory=list)  # the booked times, sorted
    _ahead: int | None = None  # targets of the run not launched yet (None: not told)
    _launched: set[str] = field(default_factory=set)

    def expect(self, own: Mapping[str, Expectation]) -> None:
        """These targets' own time distributions, from their history (:func:`expectations`):
        each is read when it says the target is done."""
        self._own = own

    def launching(self, targets: int) -> None:
        """The run launches ``targets`` in all; each is counted off as its watch starts
        (``launched``), so the planner knows when the launch's last targets are out."""
        self._ahead = targets

    def launched(self, key: str) -> None:
        """``key`` was launched (its watch starts; a second watch of it counts once)."""
        if self._ahead is not None and key not in self._launched:
            self._launched.add(key)
            self._ahead -= 1

    def _at_launch_end(self) -> bool:
        """Fewer targets are left to launch than are watched: the last launched (the run's
        makespan) are being read."""
        return self._ahead is not None and self._ahead < len(self._booked)

    def observe_running(self, key: str, elapsed: float) -> None:
        """A poll ``elapsed`` seconds after launch saw target ``key`` still running."""
        self.model.running(key, elapsed)

    def observe_completion(self, key: str, elapsed: float, previous_poll_elapsed: float) -> None:
        """A poll at ``elapsed`` saw ``key`` finished; the previous one (or launch, 0) did not."""
        self.model.finished(key, elapsed, previous_poll_elapsed)
        self._scouts.discard(key)

    def release(self, key: str) -> None:
        """``key`` is no longer watched (finished, failed or abandoned): free its scout slot
        and its booked read."""
        self._scouts.discard(key)
        self._unbook(key)

    def book(self, key: str, at: float) -> None:
        """``key``'s next read is planned for ``at`` (the clock's time; ``room`` counts it)."""
        self._unbook(key)
        self._booked[key] = at
        bisect.insort(self._times, at)

    def _unbook(self, key: str) -> None:
        at = self._booked.pop(key, None)
        if at is not None:
            del self._times[bisect.bisect_left(self._times, at)]

    def room(self, key: str, now: float) -> bool:
        """The reads booked up to ``tail_window_s`` after ``now`` (``key``'s own aside, and
        those already due) leave room for one more under ``tail_reads_per_s``."""
        s = self.settings
        horizon = now + s.tail_window_s
        booked = bisect.bisect_right(self._times, horizon)
        if self._booked.get(key, math.inf) <= horizon:
            booked -= 1
        return booked + 1 <= s.tail_reads_per_s * s.tail_window_s

    def hurry(self, key: str, last_seen_running: float, due: float, now: float) -> float:
        """``due`` (``next_poll_at``'s answer) brought forward when the read budget has
        ``room`` at ``now``: a target seen running is read again ``tail_gap_s`` after that
        read, one with a history of its own first read at its ``early_quantile``."""
        early = self._early(key, last_seen_running)
        if early is None or early >= due or not self.room(key, now):
            return due
        return early

    def _early(self, key: str, last_seen_running: float) -> float | None:
        """The soonest ``hurry`` may read ``key`` (None: never sooner than planned). Only a
        target with a history of its own, and not run past ``TAIL_UNTIL`` times the 99th
        percentile of it (a dead agent, a wedged script: the spacing's business). Seen running:
        again after ``tail_lag`` of its time so far, or the gap at which re-reading every
        watched target would spend ``tail_reads_per_s``, never under ``tail_gap_s``. Not read
        yet: at its ``early_quantile``, once no more are watched than re-reads at
        ``tail_gap_s`` could cover."""
        s, own, seen = self.settings, self._own.get(key), last_seen_running
        if s.tail_reads_per_s <= 0 or own is None or seen > TAIL_UNTIL * own.quantile(_OWN_UNTIL):
            return None
        watched = len(self._booked)
        if seen > 0:
            return seen + max(s.tail_gap_s, watched / s.tail_reads_per_s, s.tail_lag * seen)
        if watched > s.tail_reads_per_s * s.tail_gap_s:
            return None
        return own.quantile(s.early_quantile)

    @property
    def learned(self) -> int:
        return self.model.completions

    def next_poll_at(self, key: str, last_seen_running: float) -> float:
        """When (seconds since launch) to read ``key`` next; it was last seen running at
        ``last_seen_running`` (0 = launch, never read). Ask again after waking early: the
        answer moves as the planner learns.
        """
        s, e = self.settings, last_seen_running
        own = self._own_while_expected(key, e)
        if own is not None:  # when its own history says it is done
            p = s.history_quantile if e == 0 else 1.0 - own.survival(e) * s.keep
            due = own.quantile(p)
        elif self.model.completions >= s.learn_after:
            self.model.refresh()
            keep = s.tail_keep if self._at_launch_end() else s.keep
            due = self.model.quantile(1.0 - self.model.survival(e) * keep)
        elif self._is_scout(key):
            due = max(s.first_delay_s, e * s.growth)
        else:
            due = e + s.max_gap_s  # wait for the scouts rather than probe blind
        return min(max(due, e + s.min_gap_s), e + s.max_gap_s)

    def sleep_before_asking_again(self, key: str, last_seen_running: float, wait: float) -> float:
        """How much of a ``wait`` a target sleeps before re-asking: all of it for a read its
        own history decided that nothing can hurry, short while the scouts are out (learning
        may start any moment), a quarter of it later (the model, or the room to ``hurry``,
        moves slowly) — or all of it, once ``settled_after`` targets are done, for a target whose
        read only the model decides."""
        s = self.settings
        own = self._own_while_expected(key, last_seen_running)
        if own is not None and self._early(key, last_seen_running) is None:
            return wait
        if own is not None:
            return min(wait, max(s.recheck_s, wait / 4))
        if self.model.completions < s.learn_after:
            return min(wait, s.recheck_s)
        if self.model.completions >= s.settled_after and not self._at_launch_end():
            return wait
        return min(wait, max(s.recheck_s, wait / 4))

    def _own_while_expected(self, key: str, elapsed: float) -> Expectation | None:
        """``key``'s own distribution, unless it has run past the tail of it."""
        own = self._own.get(key)
        if own is None or (elapsed > 0 and elapsed > own.quantile(_OWN_UNTIL)):
            return None
        return own

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
        now = clock.now()
        due = planner.hurry(key, seen, planner.next_poll_at(key, seen), now)
        due = min(max(due, last + poll.min_gap_s), at)
        planner.book(key, since + due)
        wait = due - (now - since)
        if wait <= EPSILON * poll.min_gap_s:  # float noise must not spin the loop
            return
        await clock.sleep(planner.sleep_before_asking_again(key, seen, wait))

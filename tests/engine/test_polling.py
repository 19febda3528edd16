"""Budgeted polling: scouts probe geometrically, the learned model puts polls at conditional
quantiles, gaps stay within bounds, and — the key property — a fleet with log-normal durations
costs at most two reads per target on average."""

from __future__ import annotations

import dataclasses
import math
import random
from itertools import pairwise
from statistics import NormalDist, mean, median

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.api import Backend, prepare, run_async
from fleet.engine.durations import DurationModel
from fleet.engine.polling import TAIL_UNTIL, PollPlanner, PollSettings, expectations
from fleet.engine.runner import EngineSettings
from fleet.model import (
    Forecast,
    JobSpec,
    ScriptSource,
    ScriptSpec,
    Selector,
    SourceKind,
    Status,
)
from fleet.rollout.forecast import Observation, learn
from tests.fakes import VIRTUAL_TIME, Behaviour, FakeArm, make_target

STD = NormalDist()


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return VIRTUAL_TIME


def feed(model: DurationModel, durations: list[float], poll_at: list[float]) -> None:
    """Targets all launched together and read at ``poll_at`` until seen finished (or not)."""
    for i, d in enumerate(durations):
        previous = 0.0
        for t in poll_at:
            if d <= t:
                model.finished(str(i), t, previous)
                break
            model.running(str(i), t)
            previous = t


def test_scouts_probe_geometrically_before_anything_is_learned() -> None:
    s = PollSettings(first_delay_s=3.0, growth=2.0, max_gap_s=120.0)
    planner = PollPlanner(s)
    due, seen = [], 0.0
    for _ in range(8):
        seen = planner.next_poll_at("scout", seen)
        due.append(seen)
    assert due[:6] == [3.0, 6.0, 12.0, 24.0, 48.0, 96.0]
    assert due[6:] == [192.0, 312.0]  # max_gap caps the growth


def test_targets_beyond_the_scouts_wait_instead_of_probing() -> None:
    planner = PollPlanner(PollSettings(scouts=2, max_gap_s=100.0))
    assert planner.next_poll_at("a", 0.0) == planner.next_poll_at("b", 0.0) == 3.0
    assert planner.next_poll_at("c", 0.0) == 100.0
    planner.observe_completion("a", 3.0, 0.0)  # frees a's scout slot
    assert planner.next_poll_at("c", 0.0) == 3.0


def test_model_recovers_a_lognormal_from_censored_reads() -> None:
    rng = random.Random(7)
    durations = [rng.lognormvariate(math.log(30), 0.5) for _ in range(3000)]
    model = DurationModel()
    feed(model, durations, [10.0, 20.0, 35.0, 50.0, 80.0])  # coarse reads, long runners left
    model.refresh()
    assert model.mu == pytest.approx(math.log(30), abs=0.05)
    assert model.sigma == pytest.approx(0.5, abs=0.05)


def test_model_is_not_fooled_by_seeing_only_the_short_ones_finish() -> None:
    # At 25 s after a common launch only the short third has finished: a plain sample of
    # completions would put the median near 20 s; the still-running targets say otherwise.
    rng = random.Random(3)
    durations = [rng.lognormvariate(math.log(30), 0.5) for _ in range(2000)]
    model = DurationModel()
    feed(model, durations, [15.0, 25.0])
    model.refresh()
    finished = [d for d in durations if d <= 25.0]
    assert median(finished) < 22
    assert model.quantile(0.5) == pytest.approx(30, rel=0.08)


def test_learned_polls_land_at_conditional_quantiles() -> None:
    rng = random.Random(11)
    durations = [rng.lognormvariate(math.log(20), 0.6) for _ in range(3000)]
    s = PollSettings(keep=0.35)
    planner = PollPlanner(s)
    feed(planner.model, durations, [8.0, 16.0, 24.0, 40.0, 60.0, 100.0])
    truth = NormalDist(math.log(20), 0.6)
    for seen in (0.0, 15.0, 30.0, 60.0):
        due = planner.next_poll_at("new", seen)
        alive = 1.0 if seen == 0 else 1 - truth.cdf(math.log(seen))
        still_running = 1 - truth.cdf(math.log(due))
        assert still_running / alive == pytest.approx(s.keep, abs=0.04)


@settings(max_examples=150, deadline=None)
@given(
    observations=st.lists(
        st.tuples(
            st.integers(0, 30),
            st.floats(0.01, 5000.0),
            st.booleans(),
        ),
        max_size=60,
    ),
    seen=st.floats(0.0, 10000.0),
)
def test_polls_never_closer_than_min_gap_nor_further_than_max_gap(
    observations: list[tuple[int, float, bool]], seen: float
) -> None:
    s = PollSettings(min_gap_s=1.0, max_gap_s=120.0, learn_after=1)
    planner = PollPlanner(s)
    for key, elapsed, done in observations:
        if done:
            planner.observe_completion(str(key), elapsed, elapsed / 2)
        else:
            planner.observe_running(str(key), elapsed)
    due = planner.next_poll_at("probe", seen)
    assert seen + s.min_gap_s <= due <= seen + s.max_gap_s


def test_time_scale_divides_every_duration_setting() -> None:
    s = PollSettings().scaled(10.0)
    base = PollSettings()
    assert s.first_delay_s == base.first_delay_s / 10
    assert (s.min_gap_s, s.max_gap_s, s.recheck_s) == (0.1, base.max_gap_s / 10, 0.5)
    assert (s.growth, s.keep, s.learn_after, s.scouts) == (
        base.growth,
        base.keep,
        base.learn_after,
        base.scouts,
    )


def test_a_fleet_k_times_faster_is_polled_k_times_faster() -> None:
    rng = random.Random(5)
    durations = [rng.lognormvariate(math.log(30), 0.5) for _ in range(1000)]
    slow, fast = PollPlanner(PollSettings()), PollPlanner(PollSettings().scaled(20.0))
    feed(slow.model, durations, [10.0, 20.0, 40.0, 80.0])
    feed(fast.model, [d / 20 for d in durations], [0.5, 1.0, 2.0, 4.0])
    for seen in (0.0, 25.0, 50.0):
        assert fast.next_poll_at("x", seen / 20) == pytest.approx(
            slow.next_poll_at("x", seen) / 20, rel=0.05
        )


POPULATIONS = [(30.0, 0.5), (8.0, 1.0), (60.0, 0.3)]  # (median seconds, sigma)


@pytest.mark.anyio
@pytest.mark.parametrize(("median_s", "sigma"), POPULATIONS)
async def test_a_lognormal_fleet_costs_at_most_two_reads_per_target(
    median_s: float, sigma: float
) -> None:
    rng = random.Random(2026)
    arm = FakeArm(put_rate=10.0)  # launches at 10 per second, as Azure's write buckets allow
    for i in range(500):
        duration = rng.lognormvariate(math.log(median_s), sigma)
        arm.add(make_target(f"vm-{i:03}"), Behaviour(pickup=0.0, duration=duration))
    script = ScriptSpec(ScriptSource(SourceKind.INLINE, "true"), timeout_s=3600)
    report = await run_async(
        JobSpec("bench", Selector(), script), Backend(arm, arm), settings=EngineSettings()
    )
    assert all(r.status is Status.SUCCEEDED for r in report.results)
    assert mean(r.polls for r in report.results) <= 2.0
    s = PollSettings()
    gaps = [b - a for times in arm.get_times.values() for a, b in pairwise(times)]
    assert min(gaps) >= s.min_gap_s * 0.999 and max(gaps) <= s.max_gap_s * 1.001


def test_a_target_with_history_is_first_read_when_it_should_be_done() -> None:
    """Its pickup plus the history quantile of its expected run time; seen still running, again
    by its own distribution (soon: a short script is nearly done), and once past the tail of
    its own distribution, by the learned model as without history (here: a scout's probe)."""
    s = PollSettings(pickup_s=3.0, history_quantile=0.8, scouts=1, tail_reads_per_s=0.0)
    forecast = Forecast(per_target={"/vm/a": 40.0}, typical_s=20.0, spread=0.2, runs=2)
    targets = [make_target("a"), make_target("b")]
    targets = [dataclasses.replace(targets[0], id="/vm/A"), targets[1]]
    planner = PollPlanner(s)
    planner.expect(expectations(forecast, targets, s, time_scale=1.0))
    due = planner.next_poll_at("/vm/a", 0.0)
    assert due == pytest.approx(3.0 + 40.0 * math.exp(STD.inv_cdf(0.8) * 0.2))
    assert planner.sleep_before_asking_again("/vm/a", 0.0, due) == due  # nothing will move it
    assert planner.hurry("/vm/a", 0.0, due, now=0.0) == due  # no tail reads: never sooner
    # still running at its 80% point: ``keep`` of what is left may survive the next read
    again = planner.next_poll_at("/vm/a", due)
    assert again == pytest.approx(3.0 + 40.0 * math.exp(STD.inv_cdf(1 - 0.2 * s.keep) * 0.2))
    assert due < again < due + 10.0  # seconds later, not a fleet-wide gap
    tail = 3.0 + 40.0 * math.exp(STD.inv_cdf(0.99) * 0.2)
    assert planner.next_poll_at("/vm/a", tail + 1.0) == pytest.approx((tail + 1.0) * s.growth)
    # b has no history of its own: planned as without history (the scout slot is a's)
    assert planner.next_poll_at(targets[1].id.lower(), 0.0) == s.max_gap_s


def test_history_reads_follow_the_time_scale() -> None:
    s = PollSettings().scaled(10.0)
    forecast = Forecast(per_target={"/vm/a": 40.0}, typical_s=20.0, spread=0.2, runs=2)
    target = dataclasses.replace(make_target("a"), id="/vm/a")
    fast, slow = PollPlanner(s), PollPlanner(PollSettings())
    fast.expect(expectations(forecast, [target], s, time_scale=10.0))
    slow.expect(expectations(forecast, [target], PollSettings(), time_scale=1.0))
    first = slow.next_poll_at("/vm/a", 0.0)
    assert fast.next_poll_at("/vm/a", 0.0) == pytest.approx(first / 10)
    assert fast.next_poll_at("/vm/a", first / 10) == pytest.approx(
        slow.next_poll_at("/vm/a", first) / 10
    )


@pytest.mark.anyio
async def test_with_history_most_targets_are_read_once() -> None:
    """The same fleet run twice through the engine: the second run, planned with the first
    run's forecast, reads about once per target, where the first needed about 1.5; every
    result is the same."""
    rng = random.Random(7)
    arm = FakeArm(put_rate=10.0)
    own = {}
    for i in range(400):
        own[f"vm-{i:03}"] = rng.lognormvariate(math.log(30), 0.5)
        arm.add(make_target(f"vm-{i:03}"), Behaviour(pickup=2.0, duration=own[f"vm-{i:03}"]))
    script = ScriptSpec(ScriptSource(SourceKind.INLINE, "true"), timeout_s=3600)
    spec, backend = JobSpec("twice", Selector(), script), Backend(arm, arm)
    first = await run_async(spec, backend, settings=EngineSettings())
    observations = [
        Observation(r.target.id, own[r.target.name] * math.exp(0.15 * rng.gauss(0, 1)))
        for r in first.results
    ]
    for name, d in own.items():  # this run: each VM's own time with fresh noise
        arm.behaviour[name].duration = d * math.exp(0.15 * rng.gauss(0, 1))
    plan = await prepare(spec, backend, forecast=learn(observations))
    second = await run_async(plan, backend, settings=EngineSettings())
    assert all(r.status is Status.SUCCEEDED for r in (*first.results, *second.results))
    assert mean(r.polls for r in first.results) > 1.3
    assert mean(r.polls for r in second.results) < 1.3


@pytest.mark.anyio
async def test_spare_reads_at_the_tail_see_the_last_targets_sooner() -> None:
    """A second run with history, once with the tail's spare reads and once without (the
    same fleet and durations, each on a fresh emulated ARM, virtual time): with them its last
    target is seen done sooner after the run starts, at a cost of at most a tenth of a read
    per target."""
    spans, reads = [], []
    for tail in (0.0, PollSettings().tail_reads_per_s):
        rng = random.Random(11)
        arm = FakeArm(put_rate=10.0)
        own = {f"vm-{i:03}": rng.lognormvariate(math.log(30), 0.5) for i in range(300)}
        for name, d in own.items():
            noisy = d * rng.lognormvariate(0, 0.3)
            arm.add(make_target(name), Behaviour(pickup=2.0, duration=noisy))
        script = ScriptSpec(ScriptSource(SourceKind.INLINE, "true"), timeout_s=3600)
        spec, backend = JobSpec("tail", Selector(), script), Backend(arm, arm)
        forecast = learn([Observation(make_target(n).id, d) for n, d in own.items()])
        plan = await prepare(spec, backend, forecast=forecast)
        poll = dataclasses.replace(PollSettings(), tail_reads_per_s=tail)
        start = anyio.current_time()
        report = await run_async(plan, backend, settings=EngineSettings(poll=poll))
        assert all(r.status is Status.SUCCEEDED for r in report.results)
        spans.append(anyio.current_time() - start)
        reads.append(mean(r.polls for r in report.results))
    assert spans[1] < spans[0]
    assert reads[1] <= reads[0] + 0.1


FORTY = Forecast(per_target={"/vm/a": 40.0}, typical_s=40.0, spread=0.2, runs=3)


def _tail_planner(settings: PollSettings | None = None) -> PollPlanner:
    """A planner whose target ``/vm/a`` expects 40 s (its pickup 3 s) and nothing else."""
    s = settings or PollSettings()
    planner = PollPlanner(s)
    target = dataclasses.replace(make_target("a"), id="/vm/a")
    planner.expect(expectations(FORTY, [target], s, time_scale=1.0))
    return planner


def test_an_overdue_target_with_idle_read_budget_is_read_again_within_seconds() -> None:
    """Seen running past its expectation at a run's end (a few targets watched, their reads
    far apart): read again ``tail_gap_s`` later (or a tenth of its run time, if more), not
    when its distribution's next conditional quantile falls."""
    s = PollSettings()
    planner = _tail_planner(s)
    for i in range(5):
        planner.book(f"other-{i}", 100.0 + 30 * i)
    seen, launched = 50.0, 10.0  # launched at clock 10 s, seen running 50 s later
    due = planner.next_poll_at("/vm/a", seen)
    assert due > seen + 5  # what the spacing alone would do
    hurried = planner.hurry("/vm/a", seen, due, now=launched + seen)
    assert hurried == pytest.approx(seen + max(s.tail_gap_s, s.tail_lag * seen))
    assert hurried <= seen + 5
    young = planner.hurry("/vm/a", 12.0, planner.next_poll_at("/vm/a", 12.0), now=22.0)
    assert young == pytest.approx(12.0 + s.tail_gap_s)


def test_with_a_busy_read_budget_the_old_spacing_holds() -> None:
    """As many reads booked for the next ``tail_window_s`` as ``tail_reads_per_s`` allows: no
    read is brought forward; once they are done (booked further out) it is again."""
    s = PollSettings()
    planner = _tail_planner(s)
    busy = int(s.tail_reads_per_s * s.tail_window_s)
    for i in range(busy):
        planner.book(f"other-{i}", 60.0 + i * s.tail_window_s / busy)
    seen = 50.0
    due = planner.next_poll_at("/vm/a", seen)
    assert planner.hurry("/vm/a", seen, due, now=60.0) == due
    for i in range(busy):
        planner.book(f"other-{i}", 100.0 + i)  # spread out: room again
    assert planner.hurry("/vm/a", seen, due, now=60.0) < due


def test_many_targets_watched_keep_the_spacing_and_the_first_read() -> None:
    """The tail gap is at least what re-reading every watched target would cost at
    ``tail_reads_per_s``: with 400 watched (reads booked far apart) that is 50 s, later than
    the spacing's own; and a first read is brought to the early part of its own range only
    when no more are watched than re-reads at ``tail_gap_s`` could cover."""
    s = PollSettings()
    planner = _tail_planner(s)
    for i in range(400):
        planner.book(f"other-{i}", 1000.0 + i)
    seen = 50.0
    due = planner.next_poll_at("/vm/a", seen)
    assert planner.hurry("/vm/a", seen, due, now=60.0) == due
    first = planner.next_poll_at("/vm/a", 0.0)
    assert planner.hurry("/vm/a", 0.0, first, now=0.0) == first
    for i in range(400 - int(s.tail_reads_per_s * s.tail_gap_s)):
        planner.release(f"other-{i}")  # as many left as re-reads at tail_gap_s cover
    early = 3.0 + 40.0  # its own median: the 50 % point of its range
    assert planner.hurry("/vm/a", 0.0, first, now=0.0) == pytest.approx(early)
    assert early < first


def test_no_history_a_dead_agent_or_no_tail_budget_is_never_hurried() -> None:
    """The spacing alone decides for a target without a history of its own (a first run
    polls as before), one far past its own range, and the reboot planner (no tail budget)."""
    planner = _tail_planner()
    assert planner.hurry("/vm/b", 50.0, 70.0, now=60.0) == 70.0
    far = TAIL_UNTIL * (3.0 + 40.0 * math.exp(STD.inv_cdf(0.99) * 0.2)) + 1.0
    assert planner.hurry("/vm/a", far, far + 60.0, now=far) == far + 60.0
    reboot = _tail_planner(EngineSettings().reboot_poll)
    assert reboot.hurry("/vm/a", 50.0, 70.0, now=60.0) == 70.0


def test_tail_settings_follow_the_time_scale() -> None:
    s, base = PollSettings().scaled(10.0), PollSettings()
    assert s.tail_reads_per_s == base.tail_reads_per_s * 10
    assert (s.tail_window_s, s.tail_gap_s) == (base.tail_window_s / 10, base.tail_gap_s / 10)
    assert (s.tail_lag, s.early_quantile) == (base.tail_lag, base.early_quantile)


def test_a_released_target_frees_its_booked_read() -> None:
    planner = PollPlanner(PollSettings(tail_reads_per_s=1.0, tail_window_s=2.0))
    planner.book("a", 1.0)
    planner.book("a", 1.5)  # booked again: counted once
    assert planner.room("b", 0.0)
    planner.book("b", 1.0)
    assert not planner.room("c", 0.0)
    planner.release("a")
    assert planner.room("c", 0.0)


def test_once_the_model_has_settled_a_waiting_target_sleeps_its_whole_wait() -> None:
    """While the model is young a target re-asks a quarter of its wait later (the answer moves as
    targets finish); after ``settled_after`` completions it sleeps the whole wait: one wake-up
    per read (#16: ~11 wake-ups per target on a 10,000-target run before). A target with a
    history of its own that the tail may hurry still re-asks."""
    s = PollSettings(settled_after=20, tail_reads_per_s=8.0)
    planner = PollPlanner(s)
    rng = random.Random(7)
    wait = 40.0
    for i in range(s.settled_after):
        if i == s.learn_after:
            young = planner.sleep_before_asking_again("/vm/x", 0.0, wait)
            assert young == pytest.approx(max(s.recheck_s, wait / 4))
        planner.observe_completion(f"/vm/{i}", rng.lognormvariate(3.0, 0.3), 0.0)
    assert planner.sleep_before_asking_again("/vm/x", 0.0, wait) == wait
    known = make_target("h")
    forecast = Forecast({known.id.lower(): 40.0}, typical_s=20.0, spread=0.2, runs=2)
    planner.expect(expectations(forecast, [known], s, time_scale=1.0))
    seen = 30.0  # seen running: the tail may read it again sooner, so it keeps re-asking
    assert planner.sleep_before_asking_again(known.id.lower(), seen, wait) < wait


def test_the_launchs_last_targets_are_read_by_the_tail_keep_and_keep_re_asking() -> None:
    """A blind target is read at the model's (1 - keep) quantile while many are left to launch;
    once fewer are left than are watched (the targets that decide the makespan are out), at
    (1 - tail_keep), sooner, and it re-asks as the model moves instead of sleeping its whole wait
    (#16: keep = 0.2 throughout cost mixed-10k ~3 % of its makespan)."""
    s = PollSettings(settled_after=20, keep=0.2, tail_keep=0.35)
    planner = PollPlanner(s)
    rng = random.Random(11)
    for i in range(s.settled_after):
        planner.observe_completion(f"/vm/done-{i}", rng.lognormvariate(3.0, 0.4), 0.0)
    planner.launching(10)
    for i in range(5):  # five launched and watched, five still to launch
        planner.launched(f"/vm/{i}")
        planner.launched(f"/vm/{i}")  # a second watch of one target counts once
        planner.book(f"/vm/{i}", 100.0)
    busy = planner.next_poll_at("/vm/0", 0.0)
    assert busy == pytest.approx(planner.model.quantile(1 - 0.2))
    assert planner.sleep_before_asking_again("/vm/0", 0.0, 40.0) == 40.0
    planner.launched("/vm/5")
    planner.book("/vm/5", 100.0)  # 4 left to launch, 6 watched: the launch's end
    tail = planner.next_poll_at("/vm/0", 0.0)
    assert tail == pytest.approx(planner.model.quantile(1 - 0.35))
    assert tail < busy
    assert planner.sleep_before_asking_again("/vm/0", 0.0, 40.0) < 40.0


def test_without_the_launch_count_the_planner_never_switches_to_the_tail_keep() -> None:
    s = PollSettings(settled_after=20, keep=0.2, tail_keep=0.35)
    planner = PollPlanner(s)
    rng = random.Random(12)
    for i in range(s.settled_after):
        planner.observe_completion(f"/vm/done-{i}", rng.lognormvariate(3.0, 0.4), 0.0)
    planner.launched("/vm/0")  # not told how many: a gate's own planner, a reboot's
    planner.book("/vm/0", 50.0)
    assert planner.next_poll_at("/vm/0", 0.0) == pytest.approx(planner.model.quantile(0.8))

"""Learning a job's forecast from earlier runs (pure): robust per-target expectations in
log-time, old runs fading, the job's typical time for new targets, the run-to-run spread."""

from __future__ import annotations

import math
import random

import pytest

from fleet.model import Forecast
from fleet.rollout.forecast import PRIOR_SPREAD, Observation, learn


def obs(target: str, *times: float) -> list[Observation]:
    """``times`` newest first (runs ago 0, 1, ...)."""
    return [Observation(target, t, ago) for ago, t in enumerate(times)]


def test_no_history_no_forecast() -> None:
    assert learn([]) is None
    assert learn([Observation("vm-a", 0.0), Observation("vm-b", -3.0)]) is None  # untimed


def test_one_run_is_pulled_toward_the_typical_time_keeping_the_order() -> None:
    forecast = learn([*obs("VM-A", 40.0), *obs("vm-b", 10.0), *obs("vm-c", 20.0)])
    assert forecast is not None
    assert forecast.typical_s == pytest.approx(20.0)  # the median target
    a, b = forecast.expected_s("vm-a"), forecast.expected_s("vm-b")  # ids in any case
    assert 20.0 < a < 40.0 and 10.0 < b < 20.0  # one run may have been luck
    assert a > forecast.expected_s("vm-c") > b  # the order stays
    assert forecast.expected_s("vm-new") == pytest.approx(20.0)  # no history: the typical one
    assert forecast.known("vm-b") and not forecast.known("vm-new")
    assert forecast.spread == PRIOR_SPREAD and forecast.runs == 1
    # the next run scatters more than one run does around a known time; a new VM most of all
    assert PRIOR_SPREAD < forecast.spread_of("vm-a") < forecast.spread_of("vm-new")


def test_the_quickest_last_time_are_expected_slower_next_time() -> None:
    """Each VM's own time (log-sd 0.5 over the fleet) plus a fresh log-sd 0.2 per run: the
    tenth of the VMs quickest in the 1st run were partly lucky. Taken as they were, the 2nd
    run's times would stay under their 80% quantile well under 80% of the time; pulled toward
    the typical time with the added uncertainty, at least as often as promised."""
    rng = random.Random(11)
    own = {f"vm-{i}": 30 * math.exp(0.5 * rng.gauss(0, 1)) for i in range(2000)}
    first = {k: v * math.exp(0.2 * rng.gauss(0, 1)) for k, v in own.items()}
    second = {k: v * math.exp(0.2 * rng.gauss(0, 1)) for k, v in own.items()}
    forecast = learn(Observation(k, v) for k, v in first.items())
    assert forecast is not None
    quickest = sorted(first, key=first.__getitem__)[:200]
    naive = sum(second[k] <= first[k] * math.exp(0.8416 * PRIOR_SPREAD) for k in quickest)
    kept = sum(second[k] <= forecast.quantile_s(k, 0.8) for k in quickest)
    assert naive < 0.72 * len(quickest)  # promised 80%
    assert kept >= 0.8 * len(quickest)


def test_one_odd_run_does_not_move_the_expectation() -> None:
    """A mirror that stalled once: 400 s among runs of ~30 s."""
    forecast = learn(obs("vm-a", 400.0, 30.0, 31.0, 29.0, 30.0))
    assert forecast is not None
    assert forecast.expected_s("vm-a") == pytest.approx(30.0, rel=0.05)


def test_old_runs_fade() -> None:
    """A VM that got a faster disk three runs ago is believed: the recent runs outweigh the
    older, more numerous ones."""
    forecast = learn(obs("vm-a", 10.0, 10.0, 11.0, 60.0, 60.0, 61.0, 60.0))
    assert forecast is not None
    assert forecast.expected_s("vm-a") < 12.0  # not the 60 s of the older majority


def test_two_runs_are_averaged_in_log_time_newer_weighing_more() -> None:
    forecast = learn(obs("vm-a", 40.0, 10.0))
    assert forecast is not None
    assert 20.0 < forecast.expected_s("vm-a") < 40.0  # above the geometric mean of 20


def test_spread_is_measured_from_the_two_latest_runs() -> None:
    """Runs scattering by a log-sd of 0.2 around each VM's own time: the spread says ~0.2,
    whatever the VMs' own times are."""
    rng = random.Random(5)
    observations = []
    for i in range(400):
        own = 30 * math.exp(0.5 * rng.gauss(0, 1))
        observations += obs(f"vm-{i}", *(own * math.exp(0.2 * rng.gauss(0, 1)) for _ in range(2)))
    forecast = learn(observations)
    assert forecast is not None
    assert forecast.spread == pytest.approx(0.2, rel=0.15)
    assert forecast.runs == 2


def test_quantile_and_order() -> None:
    forecast = Forecast(per_target={"a": 10.0, "b": 50.0}, typical_s=20.0, spread=0.2, runs=3)
    assert forecast.quantile_s("a", 0.5) == pytest.approx(10.0)
    assert forecast.quantile_s("a", 0.8) == pytest.approx(10.0 * math.exp(0.8416 * 0.2), rel=1e-3)
    assert forecast.quantile_s("new", 0.5) == pytest.approx(20.0)

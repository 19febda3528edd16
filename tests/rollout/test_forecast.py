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


def test_one_run_is_taken_as_it_is() -> None:
    forecast = learn([*obs("VM-A", 40.0), *obs("vm-b", 10.0), *obs("vm-c", 20.0)])
    assert forecast is not None
    assert forecast.expected_s("vm-a") == pytest.approx(40.0)  # ids in any case
    assert forecast.typical_s == pytest.approx(20.0)  # the median target
    assert forecast.expected_s("vm-new") == pytest.approx(20.0)  # no history: the typical one
    assert forecast.known("vm-b") and not forecast.known("vm-new")
    assert forecast.spread == PRIOR_SPREAD and forecast.runs == 1


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

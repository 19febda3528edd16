"""The lower bound: bucket admission times, the longest-first pairing, and the bound computed
from a profile (fixed durations via sigma 0, so the expected figures are exact)."""

from __future__ import annotations

import math

import pytest

from fleet.bench.lower_bound import Bucket, bucket_bound, lower_bound
from fleet.sim.profile import parse_profile


def test_continuous_bucket_admits_the_burst_at_once_then_at_its_rate() -> None:
    arm = Bucket("arm", capacity=200, refill=10)
    assert arm.admit_time(1) == 0 and arm.admit_time(200) == 0
    assert arm.admit_time(201) == pytest.approx(0.1)
    assert arm.admit_time(2000) == pytest.approx(180.0)


def test_per_minute_bucket_refills_whole_minutes() -> None:
    compute = Bucket("compute", capacity=1500, refill=500, interval=60.0, discrete=True)
    assert compute.admit_time(1500) == 0
    assert compute.admit_time(1501) == 60.0
    assert compute.admit_time(2000) == 60.0
    assert compute.admit_time(2001) == 120.0


def test_longest_scripts_pair_with_the_earliest_admissions() -> None:
    bucket = Bucket("b", capacity=1, refill=1)  # admits at 0, 1, 2, ...
    # best order: 10 at t=0, 5 at t=1, 1 at t=2 -> max(10, 6, 3) = 10
    assert bucket_bound(bucket, [1, 10, 5]) == 10
    # the tail dominates when scripts are short: 1 at t=2 -> 3
    assert bucket_bound(bucket, [1, 1, 1]) == 3
    assert bucket_bound(bucket, []) == 0.0


def _profile(vms: int, *, regions: int = 1, arm_writes: list | None = None, **script) -> object:
    groups = [
        {
            "name": f"rg-{r}",
            "location": f"region{r}",
            "vms": [{"count": vms, "name": f"vm{r}-{{i:05d}}"}],
        }
        for r in range(regions)
    ]
    data = {
        "name": "lb",
        "seed": 1,
        "subscriptions": [
            {"id": "55555555-5555-4555-8555-000000000001", "name": "s", "resource_groups": groups}
        ],
        "script": {
            "pending": {"median": 2, "sigma": 0, "min": 2, "max": 2},
            "duration": {"median": 30, "sigma": 0, "min": 30, "max": 30},
            **script,
        },
    }
    if arm_writes is not None:
        data["throttling"] = {"arm": {"writes": arm_writes}}
    return parse_profile(data)


def test_arm_writes_bind_one_subscription() -> None:
    bound = lower_bound(_profile(400), seed=1, timeout_s=600)
    assert bound.puts == 400 and bound.targets == 400
    assert bound.admit_s == pytest.approx(20.0)  # (400 - 200) / 10 per second
    assert bound.lower_bound_s == pytest.approx(20.0 + 32.0)  # last PUT + pickup + run
    assert bound.binding_bucket.startswith("arm:writes:")


def test_compute_update_vm_binds_when_arm_is_generous() -> None:
    profile = _profile(1600, arm_writes=[100000, 1000])
    bound = lower_bound(profile, seed=1, timeout_s=600)
    assert bound.lower_bound_s == pytest.approx(60.0 + 32.0)  # 1,501st PUT waits a minute
    assert bound.binding_bucket.startswith("compute:UpdateVM:")


def test_compute_buckets_are_per_region() -> None:
    profile = _profile(800, regions=2, arm_writes=[100000, 1000])  # 800 per region < 1,500
    assert lower_bound(profile, seed=1, timeout_s=600).lower_bound_s == pytest.approx(32.0)


def test_deallocated_targets_need_no_put() -> None:
    data = _profile(300).model_dump(mode="json", exclude_unset=True)
    data["defaults"] = {"power_states": {"running": 0.9, "deallocated": 0.1}}
    bound = lower_bound(parse_profile(data), seed=1, timeout_s=600)
    assert (bound.targets, bound.puts) == (300, 270)
    assert bound.admit_s == pytest.approx(7.0)


def test_planned_durations_come_from_the_seeded_outcome_model() -> None:
    profile = _profile(50, duration={"median": 30, "sigma": 0.5, "min": 5, "max": 300})
    first = lower_bound(profile, seed=1, timeout_s=600)
    assert first == lower_bound(profile, seed=1, timeout_s=600)  # deterministic per seed
    assert 5 + 2 <= first.max_duration_s <= 300 + 2 and not math.isinf(first.lower_bound_s)
    assert first.lower_bound_s == pytest.approx(first.max_duration_s)  # 50 PUTs: no wait


def test_the_blind_launcher_reference_lies_between_bound_and_worst_order() -> None:
    profile = _profile(2000, duration={"median": 30, "sigma": 0.5, "min": 5, "max": 300})
    bound = lower_bound(profile, seed=1, timeout_s=600)
    assert bound.oblivious_s is not None
    assert bound.lower_bound_s <= bound.oblivious_s <= bound.admit_s + bound.max_duration_s


def test_the_action_bound_waits_for_the_operations_minimum_and_its_own_draws() -> None:
    """An action run command's operation never ends sooner than ``action.min_duration`` (20 s)
    after the POST, and the emulator draws its durations apart from managed runs' (the same
    distributions, other draws: ``fleet.sim.action.ACTION_SEQ_OFFSET``); the POSTs take the
    same write buckets as the PUTs."""
    short = _profile(400, duration={"median": 5, "sigma": 0, "min": 5, "max": 5})
    managed = lower_bound(short, seed=1, timeout_s=600)
    action = lower_bound(short, seed=1, timeout_s=600, action=True)
    assert managed.lower_bound_s == pytest.approx(20.0 + 7.0)  # last PUT + pickup + run
    assert action.lower_bound_s == pytest.approx(20.0 + 20.0)  # last POST + the minimum
    assert (action.admit_s, action.puts, action.binding_bucket) == (
        managed.admit_s, managed.puts, managed.binding_bucket,
    )  # fmt: skip
    spread = _profile(50, duration={"median": 60, "sigma": 0.5, "min": 25, "max": 300})
    drawn = lower_bound(spread, seed=1, timeout_s=600, action=True)
    assert drawn == lower_bound(spread, seed=1, timeout_s=600, action=True)  # seeded
    assert drawn.max_duration_s != lower_bound(spread, seed=1, timeout_s=600).max_duration_s

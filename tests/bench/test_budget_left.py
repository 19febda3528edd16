"""The bound for the budget a background load leaves (fleet.bench.budget_left): the write bucket
starts with what the load left when the contender started and refills at what it leaves after."""

from __future__ import annotations

import pytest

from fleet.bench.budget_left import left_bound
from fleet.bench.lower_bound import lower_bound
from fleet.bench.scenario import load_scenario
from tests.bench.test_lower_bound import _profile

SPENT = {"arm": [{"name": "other", "kind": "writes", "spent": 200, "rate_per_s": 3}]}


def test_no_write_load_leaves_the_bound_as_it_was() -> None:
    profile = _profile(400)
    reads = {"arm": [{"name": "reader", "kind": "reads", "spent": 250, "rate_per_s": 20}]}
    assert left_bound(profile, 1, 900, "", reads, 0.0) == lower_bound(profile, 1, 900)


def test_a_spent_bucket_and_a_steady_spender() -> None:
    """Every script takes 32 s: 400 PUTs from an empty bucket refilling 7/s for fleet."""
    profile = _profile(400)
    left = left_bound(profile, 1, 900, "", SPENT, 0.0)
    assert left.lower_bound_s == pytest.approx(400 / 7 + 32)
    assert left.binding_bucket.endswith("(left)")
    held = left_bound(profile, 1, 900, "", SPENT, 10.0)  # 70 tokens back when fleet started
    assert held.lower_bound_s == pytest.approx((400 - 70) / 7 + 32)
    full = left_bound(profile, 1, 900, "", SPENT, 1000.0)  # never above the capacity
    assert full.lower_bound_s == pytest.approx((400 - 200) / 7 + 32)


def test_the_throttling_scenarios_name_their_dialect_and_load() -> None:
    assert load_scenario("throttle-windowed").throttle_headers == "windowed"
    spent = load_scenario("spent-bucket")
    assert spent.background == SPENT | {"arm": [{**SPENT["arm"][0], "name": "nightly-job"}]}
    assert spent.time_scale == 1 and spent.contenders == ("fleet",)

"""fleet.azure.limits: Azure's published numbers and fleet's share of them."""

from __future__ import annotations

import pytest

from fleet.azure.limits import ThrottleLimits, resource_capacity


def test_published_limits_apply_the_safety_margin() -> None:
    limits = ThrottleLimits.published()
    writes = limits.arm["writes"]
    assert (writes.capacity, writes.refill_per_s) == (180.0, 9.0)
    assert (writes.server_capacity, writes.server_refill_per_s) == (200, 10.0)
    assert writes.share == pytest.approx(0.9)
    assert limits.arm["reads"].capacity == 225.0
    # Compute: the burst leaves one minute's refill for the unknown refill phase (module doc);
    # counts keep 5% of the capacity back, as ARM's do
    sub = limits.compute_subscription["UpdateVM"]
    assert (sub.capacity, sub.refill_per_s, sub.sync_reserve) == pytest.approx((900, 7.5, 75))
    assert writes.sync_reserve == 10
    assert (sub.server_capacity, sub.refill_period_s) == (1500, 60.0)
    res = limits.compute_resource["UpdateVM"]
    assert (res.capacity, res.refill_per_s) == pytest.approx((7.2, 4 / 60 * 0.9))
    assert not res.watch_others and sub.watch_others  # others are estimated subscription-wide
    assert "HighCostGetVM" not in limits.compute_resource  # subscription-level only
    assert "HighCostGetVM" in limits.compute_subscription


def test_time_scale_speeds_refills_not_capacities() -> None:
    fast = ThrottleLimits.published(safety=1.0, time_scale=50)
    assert (fast.arm["reads"].capacity, fast.arm["reads"].refill_per_s) == (250.0, 1250.0)
    low = fast.compute_resource["LowCostGetVM"]
    assert low.capacity == 24
    assert low.refill_per_s == pytest.approx(10.0)
    assert fast.compute_subscription["UpdateVM"].refill_period_s == pytest.approx(60 / 50)
    with pytest.raises(ValueError, match="safety"):
        ThrottleLimits.published(safety=1.5)


def test_compute_model_never_outruns_a_per_minute_bucket() -> None:
    """Worst case for the continuous model: the server refilled just before we started."""
    for policy, limits in ThrottleLimits.published().compute_resource.items():
        cap, refill = {"UpdateVM": (12, 4), "LowCostGetVM": (36, 12)}.get(policy, (None, None))
        if cap is None or refill is None:
            continue
        for t in range(0, 600):
            local_max = limits.capacity + limits.refill_per_s * t
            assert local_max <= cap + refill * (t // 60)


def test_unlimited_has_no_bucket_and_resource_capacities() -> None:
    off = ThrottleLimits.unlimited()
    assert (off.arm, off.compute_subscription, off.compute_resource) == ({}, {}, {})
    assert off.graph is None
    assert resource_capacity("UpdateVM") == 12
    assert resource_capacity("HighCostGetVM") is None
    assert resource_capacity(None) is None

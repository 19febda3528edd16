"""The emulator's throttling model against Azure's published numbers (no clock, no sleeping)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.sim.throttle import (
    COMPUTE_POLICIES,
    ArmLimits,
    ArmThrottle,
    ComputeThrottle,
    GraphQuota,
    PolicyLimits,
    TokenBucket,
    format_hms,
)

SUB = "00000000-0000-0000-0000-000000000001"
ME = "11111111-1111-1111-1111-111111111111"
VM = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"


# ------------------------------------------------------------------------------- TokenBucket


def test_bucket_starts_full_and_discards_tokens_above_capacity() -> None:
    bucket = TokenBucket(10, 1.0)
    assert bucket.remaining(0.0) == 10
    assert bucket.remaining(1000.0) == 10
    assert bucket.take(1000.0, 10)
    assert not bucket.take(1000.0)


def test_continuous_wait_time() -> None:
    bucket = TokenBucket(5, 2.0)
    assert bucket.wait_time(0.0) == 0.0
    assert bucket.take(0.0, 5)
    assert bucket.wait_time(0.0) == pytest.approx(0.5)
    assert bucket.wait_time(0.0, 3) == pytest.approx(1.5)
    assert bucket.wait_time(0.0, 6) == math.inf


def test_discrete_refills_whole_amounts_at_boundaries_since_creation() -> None:
    bucket = TokenBucket(12, 4, 60.0, discrete=True, created=30.0)
    assert bucket.take(30.0, 12)
    assert bucket.remaining(89.9) == 0
    assert bucket.wait_time(50.0) == pytest.approx(40.0)
    assert bucket.wait_time(50.0, 5) == pytest.approx(100.0)  # needs two refills
    assert bucket.remaining(90.0) == 4
    assert bucket.window(100.0) == (90.0, 150.0)


def test_time_going_backwards_neither_refills_nor_fails() -> None:
    bucket = TokenBucket(2, 1.0)
    assert bucket.take(10.0, 2)
    assert bucket.remaining(5.0) == 0
    assert bucket.remaining(11.0) == 1


# ---------------------------------------------------------------------------------------- ARM


def _burst(arm: ArmThrottle, n: int, now: float = 0.0, kind: str = "reads", who: str = ME):
    return [arm.check(now, SUB, who, kind) for _ in range(n)]  # type: ignore[arg-type]


def test_arm_burst_of_250_reads_then_throttled() -> None:
    arm = ArmThrottle()
    decisions = _burst(arm, 251)
    assert all(d.allowed for d in decisions[:250])
    assert decisions[0].headers == {
        "x-ms-ratelimit-remaining-subscription-reads": "249",
        "x-ms-ratelimit-remaining-subscription-global-reads": "3749",
    }
    assert decisions[249].headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
    refused = decisions[250]
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(0.04)
    assert refused.error_code == "SubscriptionRequestsThrottled"
    assert refused.error_message == (
        f"Number of 'read' requests for subscription '{SUB}' actor '{ME}' exceeded. "
        "Please try again after '1' seconds."
    )
    assert refused.bucket == "arm:reads"
    assert refused.headers == {
        "x-ms-ratelimit-remaining-subscription-reads": "0",
        "x-ms-ratelimit-remaining-subscription-global-reads": "3500",
    }


def test_arm_reads_refill_continuously_at_25_per_second() -> None:
    arm = ArmThrottle()
    _burst(arm, 250)
    assert not arm.check(0.0, SUB, ME, "reads").allowed
    later = _burst(arm, 26, now=1.0)
    assert [d.allowed for d in later] == [True] * 25 + [False]
    assert arm.check(1.04, SUB, ME, "reads").allowed  # one more token 0.04 s later


@pytest.mark.parametrize("kind", ["writes", "deletes"])
def test_arm_writes_and_deletes_are_200_refilling_10_per_second(kind: str) -> None:
    arm = ArmThrottle()
    decisions = _burst(arm, 201, kind=kind)
    assert [d.allowed for d in decisions].count(True) == 200
    assert decisions[-1].retry_after_s == pytest.approx(0.1)
    verb = kind[:-1]
    assert f"Number of '{verb}' requests" in (decisions[-1].error_message or "")
    # Announcement example: an emptied write bucket is full again after 20 s, not fuller.
    assert (
        arm.check(20.0, SUB, ME, kind).headers[f"x-ms-ratelimit-remaining-subscription-{kind}"]
        == "199"
    )


def test_arm_kinds_and_subscriptions_are_independent() -> None:
    arm = ArmThrottle()
    _burst(arm, 250)
    assert arm.check(0.0, SUB, ME, "writes").allowed
    assert arm.check(0.0, "other-sub", ME, "reads").allowed


def test_arm_global_bucket_refuses_when_16_principals_hammer_one_subscription() -> None:
    arm = ArmThrottle()
    for i in range(15):
        assert all(d.allowed for d in _burst(arm, 250, who=f"principal-{i}"))
    refused = arm.check(0.0, SUB, "principal-15", "reads")
    assert not refused.allowed
    assert refused.bucket == "arm:global-reads"
    assert refused.retry_after_s == pytest.approx(1 / 375)
    assert refused.headers == {
        "x-ms-ratelimit-remaining-subscription-reads": "250",
        "x-ms-ratelimit-remaining-subscription-global-reads": "0",
    }


def test_arm_custom_limits_and_disabled() -> None:
    arm = ArmThrottle(ArmLimits(reads=(2, 1.0), global_multiplier=2))
    assert [d.allowed for d in _burst(arm, 3)] == [True, True, False]
    off = ArmThrottle(enabled=False)
    decisions = _burst(off, 1000)
    assert all(d.allowed for d in decisions)
    assert decisions[-1].headers["x-ms-ratelimit-remaining-subscription-reads"] == "250"
    assert decisions[-1].headers["x-ms-ratelimit-remaining-subscription-global-reads"] == "3750"


def test_arm_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="posts"):
        ArmThrottle().check(0.0, SUB, ME, "posts")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ Compute


def _update_vm(compute: ComputeThrottle, now: float, resource: str | None = VM):
    return compute.check(now, SUB, "eastus", "UpdateVM", resource)


def test_compute_policies_table() -> None:
    assert set(COMPUTE_POLICIES) == {
        "PutVM", "UpdateVM", "DeleteVM", "LowCostGetVM", "HighCostGetVM", "GetOperation",
        "VMGuestPatch", "VMSSPut", "VMSSUpdate", "VMSSDelete", "VMSSLowCostGet",
        "VMSSHighCostGet", "UpdateVMSSVMs", "DeleteVMSSVMs", "GetVMSSVMs",
    }  # fmt: skip
    assert COMPUTE_POLICIES["UpdateVM"] == PolicyLimits(4, 12, 500, 1500)
    assert COMPUTE_POLICIES["HighCostGetVM"] == PolicyLimits(None, None, 300, 900)
    assert COMPUTE_POLICIES["GetVMSSVMs"] == PolicyLimits(12, 36, 2000, 6000)


def test_compute_update_vm_reproduces_the_documented_worked_example() -> None:
    compute = ComputeThrottle()
    compute.check(0.0, SUB, "eastus", "LowCostGetVM", VM)  # the clock starts at minute 1
    per_minute = {1: 0, 2: 8, 3: 0, 4: 13, 5: 5}
    refused_per_minute = {}
    for minute, count in per_minute.items():
        start = (minute - 1) * 60.0
        decisions = [_update_vm(compute, start + i * 0.5) for i in range(count)]
        refused_per_minute[minute] = sum(not d.allowed for d in decisions)
    assert refused_per_minute == {1: 0, 2: 0, 3: 0, 4: 1, 5: 1}


def test_compute_throttled_resource_gets_the_documented_error_shape() -> None:
    compute = ComputeThrottle()
    for _ in range(12):
        assert _update_vm(compute, 10.0).allowed
    refused = _update_vm(compute, 10.0)
    assert not refused.allowed
    assert refused.error_code == "OperationNotAllowed"
    assert refused.error_message == (
        "The server rejected the request because too many requests have been received "
        "for this resource."
    )
    assert refused.bucket == "compute:UpdateVM:resource"
    assert refused.retry_after_s == pytest.approx(60.0)  # bucket created at t=10
    [detail] = refused.details or []
    assert detail["code"] == "TooManyRequests"
    assert detail["target"] == "UpdateVM.Resource"
    inner = json.loads(detail["message"])
    assert inner["operationGroup"] == "UpdateVM"
    assert (inner["allowedRequestCount"], inner["measuredRequestCount"]) == (12, 13)
    assert inner["startTime"] == "2025-01-01T00:00:10+00:00"
    assert inner["endTime"] == "2025-01-01T00:01:10+00:00"
    assert refused.headers == {
        "x-ms-ratelimit-remaining-resource": (
            "Microsoft.Compute/UpdateVM.Resource;0,Microsoft.Compute/UpdateVM.Subscription;1488"
        )
    }


def test_compute_hot_resource_is_throttled_while_another_proceeds() -> None:
    compute = ComputeThrottle()
    for _ in range(12):
        _update_vm(compute, 0.0)
    assert not _update_vm(compute, 0.0).allowed
    assert not _update_vm(compute, 0.0, VM.upper()).allowed  # resource ids are case-insensitive
    other = _update_vm(compute, 0.0, VM + "2")
    assert other.allowed
    assert other.headers["x-ms-ratelimit-remaining-resource"] == (
        "Microsoft.Compute/UpdateVM.Resource;11,Microsoft.Compute/UpdateVM.Subscription;1487"
    )


def test_compute_subscription_cap_across_many_resources() -> None:
    compute = ComputeThrottle()
    allowed = [_update_vm(compute, 0.0, f"{VM}{i}").allowed for i in range(1500)]
    assert all(allowed)
    refused = _update_vm(compute, 0.0, f"{VM}-fresh")
    assert not refused.allowed
    assert refused.bucket == "compute:UpdateVM:subscription"
    assert refused.error_message is not None and refused.error_message.endswith("subscription.")
    assert (refused.details or [{}])[0]["target"] == "UpdateVM.Subscription"
    # A refused request took nothing: the fresh VM's own bucket is still full.
    assert refused.headers["x-ms-ratelimit-remaining-resource"] == (
        "Microsoft.Compute/UpdateVM.Resource;12,Microsoft.Compute/UpdateVM.Subscription;0"
    )
    # Other regions and policies have their own subscription buckets.
    assert compute.check(0.0, SUB, "westus", "UpdateVM", f"{VM}-fresh").allowed
    assert compute.check(0.0, SUB, "eastus", "DeleteVM", f"{VM}-fresh").allowed
    # After one minute 500 more are allowed.
    later = [_update_vm(compute, 60.0, f"{VM}{i}").allowed for i in range(501)]
    assert later.count(True) == 500


def test_compute_subscription_only_policy_header() -> None:
    compute = ComputeThrottle()
    decision = compute.check(0.0, SUB, "eastus", "HighCostGetVM", VM)
    assert decision.headers == {
        "x-ms-ratelimit-remaining-resource": "Microsoft.Compute/HighCostGetVM.Subscription;899"
    }
    no_resource = compute.check(0.0, SUB, "eastus", "UpdateVM", None)
    assert no_resource.headers["x-ms-ratelimit-remaining-resource"] == (
        "Microsoft.Compute/UpdateVM.Subscription;1499"
    )


def test_compute_disabled_and_unknown_policy() -> None:
    off = ComputeThrottle(enabled=False)
    decisions = [_update_vm(off, 0.0) for _ in range(100)]
    assert all(d.allowed for d in decisions)
    assert decisions[-1].headers["x-ms-ratelimit-remaining-resource"] == (
        "Microsoft.Compute/UpdateVM.Resource;12,Microsoft.Compute/UpdateVM.Subscription;1500"
    )
    with pytest.raises(ValueError, match="RunVM"):
        ComputeThrottle().check(0.0, SUB, "eastus", "RunVM", VM)


def test_compute_buckets_are_lazy_and_small() -> None:
    compute = ComputeThrottle()
    for i in range(10_000):
        compute.check(0.0, SUB, "eastus", "UpdateVM", f"{VM}{i}")
        compute.check(0.0, SUB, "eastus", "LowCostGetVM", f"{VM}{i}")
    assert len(compute._resources) == 20_000
    assert len(compute._subs) == 2
    assert not hasattr(next(iter(compute._resources.values())), "__dict__")  # slots


# ------------------------------------------------------------------------------ Resource Graph


def test_graph_quota_15_per_5_seconds_and_reset() -> None:
    quota = GraphQuota()
    first = quota.check(0.0, ME)
    assert first.headers == {
        "x-ms-user-quota-remaining": "14",
        "x-ms-user-quota-resets-after": "00:00:05",
    }
    decisions = [quota.check(1.5, ME) for _ in range(15)]
    assert [d.allowed for d in decisions].count(True) == 14
    refused = decisions[-1]
    assert refused.error_code == "RateLimiting"
    assert refused.error_message is not None and "aka.ms/resourcegraph-throttling" in (
        refused.error_message
    )
    assert refused.retry_after_s == pytest.approx(3.5)
    assert refused.headers == {
        "x-ms-user-quota-remaining": "0",
        "x-ms-user-quota-resets-after": "00:00:04",
    }
    assert quota.check(0.0, "someone-else").allowed
    assert quota.check(5.0, ME).headers["x-ms-user-quota-remaining"] == "14"


def test_graph_quota_disabled() -> None:
    off = GraphQuota(enabled=False)
    assert all(off.check(0.0, ME).allowed for _ in range(100))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "00:00:00"), (-1, "00:00:00"), (2.1, "00:00:03"), (3.0, "00:00:03"), (3725, "01:02:05")],
)
def test_format_hms(seconds: float, text: str) -> None:
    assert format_hms(seconds) == text


# --------------------------------------------------------------------------------- properties

_times = st.lists(st.floats(0, 300, allow_nan=False), min_size=1, max_size=400).map(sorted)


def _allowed_times(bucket: TokenBucket, times: list[float]) -> list[float]:
    return [t for t in times if bucket.take(t)]


@settings(max_examples=200, deadline=None)
@given(times=_times, capacity=st.integers(1, 20), rate=st.floats(0.1, 10), data=st.data())
def test_continuous_bucket_never_exceeds_capacity_plus_refill(
    times: list[float], capacity: int, rate: float, data: st.DataObject
) -> None:
    allowed = _allowed_times(TokenBucket(capacity, rate), times)
    t0 = data.draw(st.sampled_from(times))
    t1 = data.draw(st.sampled_from([t for t in times if t >= t0]))
    in_window = sum(t0 <= t <= t1 for t in allowed)
    assert in_window <= capacity + rate * (t1 - t0) + 1e-6


@settings(max_examples=200, deadline=None)
@given(times=_times, capacity=st.integers(1, 20), amount=st.integers(1, 20), data=st.data())
def test_discrete_bucket_never_exceeds_capacity_plus_whole_refills(
    times: list[float], capacity: int, amount: int, data: st.DataObject
) -> None:
    allowed = _allowed_times(TokenBucket(capacity, amount, 60.0, discrete=True), times)
    t0 = data.draw(st.sampled_from(times))
    t1 = data.draw(st.sampled_from([t for t in times if t >= t0]))
    # boundaries in (t0, t1]; the bucket counts a time within 1e-9 of a boundary as on it (float
    # noise of scaled clocks), so the bound does too
    refills = math.floor(t1 / 60.0 + 1e-9) - math.floor(t0 / 60.0 + 1e-9)
    assert sum(t0 <= t <= t1 for t in allowed) <= capacity + amount * refills

"""Compute throttle header dialects and background load inside the throttle model (pure: time
is passed in, no HTTP)."""

from __future__ import annotations

import re

import pytest

from fleet.sim.background import ArmLoad, BackgroundLoad, ComputeLoad
from fleet.sim.profile_background import BackgroundSection
from fleet.sim.throttle import ArmLimits, ArmThrottle, ComputeThrottle
from fleet.sim.throttle_headers import REPEAT, HeaderDialect, HeaderStyle

SUB, VM = "sub-1", "/subscriptions/sub-1/resourcegroups/rg/providers/microsoft.compute/vm/a"
HEADER = "x-ms-ratelimit-remaining-resource"


def compute(dialect: str, missing: float = 0.0) -> ComputeThrottle:
    return ComputeThrottle(headers=HeaderStyle(HeaderDialect(dialect), missing, seed=1))


# -- header dialects ----------------------------------------------------------------------------


def test_current_dialect_names_each_scope():
    decision = compute("current").check(0.0, SUB, "eastus", "UpdateVM", VM)
    assert decision.headers[HEADER] == (
        "Microsoft.Compute/UpdateVM.Resource;11,Microsoft.Compute/UpdateVM.Subscription;1499"
    )


def test_windowed_dialect_has_several_counters_per_policy_and_no_scope():
    """Captured per-window headers: ``Microsoft.Compute/PutVM3Min;239,...PutVM30Min;1198``;
    resource and subscription counters come with nothing to tell them apart, in one value or
    (``REPEAT``-separated here) as two lines of the same header."""
    throttle = compute("windowed")
    values = [throttle.check(0.0, SUB, "eastus", "UpdateVM", f"{VM}{i}").headers[HEADER]
              for i in range(20)]  # fmt: skip
    assert {v.replace(REPEAT, ",") for v in values} == {
        "Microsoft.Compute/PutVM3Min;11,Microsoft.Compute/PutVM30Min;119,"
        "Microsoft.Compute/PutVM3Min;1499,Microsoft.Compute/PutVM30Min;14999"
    } | {
        f"Microsoft.Compute/PutVM3Min;11,Microsoft.Compute/PutVM30Min;119,"
        f"Microsoft.Compute/PutVM3Min;{1499 - i},Microsoft.Compute/PutVM30Min;{14999 - i}"
        for i in range(1, 20)
    }
    assert 0 < sum(REPEAT in v for v in values) < 20  # both forms occur
    reads = compute("windowed").check(0.0, SUB, "eastus", "LowCostGetVM", VM).headers[HEADER]
    assert reads.startswith("Microsoft.Compute/LowCostGet3Min;35,")


def test_none_dialect_sends_no_compute_header_and_limits_are_unchanged():
    throttles = {d: compute(d) for d in ("current", "windowed", "none")}
    outcomes = {}
    for dialect, throttle in throttles.items():
        decisions = [throttle.check(0.0, SUB, "eastus", "UpdateVM", VM) for _ in range(13)]
        outcomes[dialect] = [d.allowed for d in decisions]
        if dialect == "none":
            assert all(HEADER not in d.headers for d in decisions)
    assert outcomes["current"] == outcomes["windowed"] == outcomes["none"] == [True] * 12 + [False]


def test_429_target_follows_the_dialect():
    targets = {}
    for dialect in ("current", "windowed", "none"):
        throttle = compute(dialect)
        for _ in range(12):
            throttle.check(0.0, SUB, "eastus", "UpdateVM", VM)
        refused = throttle.check(0.0, SUB, "eastus", "UpdateVM", VM)
        assert not refused.allowed
        targets[dialect] = refused.details[0]["target"]
    assert targets == {"current": "UpdateVM.Resource", "windowed": "PutVM3Min", "none": "UpdateVM"}


def test_a_share_of_responses_lacks_the_header_in_any_dialect():
    throttle = compute("current", missing=0.3)
    with_header = [
        HEADER in throttle.check(float(i), SUB, "eastus", "GetOperation", None).headers
        for i in range(1000)
    ]
    assert 600 < sum(with_header) < 800
    again = compute("current", missing=0.3)
    repeat = [
        HEADER in again.check(float(i), SUB, "eastus", "GetOperation", None).headers
        for i in range(1000)
    ]
    assert repeat == with_header  # seeded: the same responses lack it
    disabled = ComputeThrottle(enabled=False, headers=HeaderStyle(HeaderDialect.WINDOWED))
    full = disabled.check(0.0, SUB, "eastus", "UpdateVM", VM).headers[HEADER]
    assert re.fullmatch(r"(Microsoft\.Compute/PutVM(3|30)Min;\d+[,\n]?){4}", full)


# -- background load ----------------------------------------------------------------------------


def arm_and_compute() -> tuple[ArmThrottle, ComputeThrottle, BackgroundLoad]:
    arm, comp = ArmThrottle(ArmLimits()), ComputeThrottle()
    return arm, comp, BackgroundLoad(arm, comp)


def remaining_writes(arm: ArmThrottle, now: float) -> int:
    decision = arm.check(now, SUB, "operator", "writes")
    assert decision.allowed
    return int(decision.headers["x-ms-ratelimit-remaining-subscription-writes"])


def test_same_principal_background_starts_spent_and_keeps_spending():
    """Issue #17: another job of the same principal has used the 200-write burst and keeps
    spending 3 writes/s; the bucket (200, +10/s) then refills at only 7/s for us."""
    arm, _, load = arm_and_compute()
    job = ArmLoad("other-job", SUB, spent=200, start=0.0, end=None, principal="operator",
                  rate_per_s=3.0)  # fmt: skip
    load.add(job)
    decision = arm.check(0.0, SUB, "operator", "writes")
    assert not decision.allowed and decision.retry_after_s == pytest.approx(0.1)
    assert remaining_writes(arm, 10.0) == 100 - 30 - 1  # +10/s refill, -3/s background, -1 ours
    [truth] = load.ground_truth(10.0)
    assert (truth["spent_at_start"], truth["taken"], truth["refused"]) == (200, 30, 0)
    other = arm.check(10.0, SUB, "someone-else", "writes")
    assert other.headers["x-ms-ratelimit-remaining-subscription-writes"] == "199"


def test_background_is_refused_when_the_bucket_is_empty_and_can_be_stopped():
    arm, _, load = arm_and_compute()
    load.add(ArmLoad("hog", SUB, spent=0, start=0.0, end=None, principal="operator",
                     rate_per_s=30.0))  # fmt: skip
    arm.check(20.0, SUB, "operator", "reads")  # any check brings the load up to date
    [truth] = load.ground_truth(20.0)
    # 200 burst + 10/s refill = 400 tokens in 20 s; it asked for 600
    assert truth["taken"] + truth["refused"] == 600
    assert truth["taken"] == pytest.approx(400, abs=1)
    assert load.stop(20.0) == 1
    assert remaining_writes(arm, 30.0) == 99  # only the refill since the stop, minus ours
    assert load.ground_truth(30.0)[0]["running"] is False


def test_another_principal_spends_the_compute_subscription_bucket():
    _, comp, load = arm_and_compute()
    load.add(ComputeLoad("other-team", SUB, spent=1000, start=0.0, end=120.0, region="eastus",
                         policy="UpdateVM", rate_per_min=300))  # fmt: skip
    decision = comp.check(30.0, SUB, "eastus", "UpdateVM", VM)
    # 1,500 - 1,000 at start - 150 in 30 s (one every 0.2 s) - ours
    assert decision.headers[HEADER].endswith("UpdateVM.Subscription;349")
    elsewhere = comp.check(30.0, SUB, "westeurope", "UpdateVM", None)
    assert elsewhere.headers[HEADER].endswith("Subscription;1499")  # per region
    comp.check(600.0, SUB, "eastus", "GetOperation", None)
    [truth] = load.ground_truth(600.0)
    assert (truth["spent_at_start"], truth["taken"]) == (1000, 600)  # stopped at end = 120 s


def test_background_section_builds_loads_with_defaults():
    section = BackgroundSection.model_validate(
        {
            "arm": [{"name": "a", "spent": 200, "rate_per_s": 3}],
            "compute": [{"name": "c", "region": "East US", "rate_per_min": 60, "duration": 10}],
        }
    )
    arm, comp = section.build("sub-1", "operator")
    assert isinstance(arm, ArmLoad) and (arm.principal, arm.subscription) == ("operator", "sub-1")
    assert isinstance(comp, ComputeLoad) and (comp.region, comp.end) == ("eastus", 10.0)

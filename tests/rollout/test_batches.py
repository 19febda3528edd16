"""Rollout planning (pure): batches partition the targets in the policy's order with the
documented sizes and rounding; zone-by-zone and fault-domain batches never mix groups."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.model import Amount, Forecast, Order, RolloutPolicy, Target
from fleet.rollout.batches import batch_sizes, ordered_groups, plan_rollout
from tests.fakes import make_target


def target(
    name: str, zone: str | None = None, fd: int | None = None, loc: str = "eastus"
) -> Target:
    return dataclasses.replace(make_target(name), zone=zone, fault_domain=fd, location=loc)


def pct(p: float) -> Amount:
    return Amount(percent=p)


def n(count: int) -> Amount:
    return Amount(count=count)


def names(plan: object) -> list[list[str]]:
    return [[t.name for t in b.targets] for b in plan.batches]  # type: ignore[attr-defined]


def test_percent_batch_sizes_round_up_with_a_minimum_of_one() -> None:
    assert pct(10).at_least_one(15) == 2  # 1.5 → 2
    assert pct(10).at_least_one(20) == 2  # exact stays exact
    assert pct(1).at_least_one(50) == 1  # 0.5 → 1
    assert pct(0.1).at_least_one(3) == 1  # never an empty batch
    assert pct(33.3).at_least_one(10) == 4
    assert pct(100).at_least_one(7) == 7
    assert n(0).at_least_one(7) == 1


def test_percent_error_budgets_round_down() -> None:
    assert pct(10).rounded_down(15) == 1  # 1.5 → 1: never more than the stated share
    assert pct(10).rounded_down(20) == 2
    assert pct(5).rounded_down(10) == 0  # the first failure halts
    assert n(3).rounded_down(1) == 3


def test_canary_then_percentages_with_the_last_size_repeating() -> None:
    targets = [target(f"vm-{i:02}") for i in range(40)]
    policy = RolloutPolicy(batches=(n(1), n(5), pct(10), pct(25)), order=Order.NAME)
    sizes = [len(b.targets) for b in plan_rollout(targets, policy).batches]
    assert sizes == [1, 5, 4, 10, 10, 10]  # 25% of 40 repeats; the last batch is the remainder
    assert plan_rollout(targets, policy).batches[0].targets[0].name == "vm-00"


def test_no_batches_is_one_batch_of_everything_in_selection_order() -> None:
    targets = [target(x) for x in ("c", "a", "b")]
    assert names(plan_rollout(targets, RolloutPolicy())) == [["c", "a", "b"]]
    assert plan_rollout([], RolloutPolicy()).batches == ()


def test_zone_by_zone_smallest_zone_first_and_never_mixed() -> None:
    targets = [target(f"a{i}", zone="1") for i in range(5)]
    targets += [target(f"b{i}", zone="2") for i in range(2)]
    targets += [target(f"c{i}", zone="3") for i in range(3)]
    targets += [target("w0", zone="1", loc="westeurope")]  # another region's zone 1
    plan = plan_rollout(targets, RolloutPolicy(batches=(n(1), n(2)), order=Order.ZONE_BY_ZONE))
    assert [(b.group, [t.name for t in b.targets]) for b in plan.batches] == [
        ("westeurope zone 1", ["w0"]),
        ("eastus zone 2", ["b0", "b1"]),
        ("eastus zone 3", ["c0", "c1"]),
        ("eastus zone 3", ["c2"]),  # cut at the zone's boundary
        ("eastus zone 1", ["a0", "a1"]),
        ("eastus zone 1", ["a2", "a3"]),
        ("eastus zone 1", ["a4"]),
    ]


def test_fault_domain_order_goes_domain_by_domain_unknown_last() -> None:
    targets = [target("x", fd=None), target("a", fd=1), target("b", fd=0), target("c", fd=1)]
    plan = plan_rollout(targets, RolloutPolicy(order=Order.FAULT_DOMAIN))
    assert [(b.group, [t.name for t in b.targets]) for b in plan.batches] == [
        ("fault domain 0", ["b"]),
        ("fault domain 1", ["a", "c"]),
        ("fault domain unknown", ["x"]),
    ]


def test_random_order_is_seeded_and_independent_of_input_order() -> None:
    targets = [target(f"vm-{i:02}") for i in range(30)]
    shuffled = random.Random(5).sample(targets, len(targets))
    one = ordered_groups(targets, Order.RANDOM, seed=42)
    assert one == ordered_groups(shuffled, Order.RANDOM, seed=42)
    assert one != ordered_groups(targets, Order.RANDOM, seed=43)
    assert sorted(t.name for t in one[0][1]) == [t.name for t in targets]


def test_batch_sizes_generator() -> None:
    sizes = batch_sizes((n(1), pct(50)), 10)
    assert [next(sizes) for _ in range(4)] == [1, 5, 5, 5]


fleets = st.lists(
    st.tuples(
        st.sampled_from([None, "1", "2", "3"]),
        st.sampled_from([None, 0, 1, 2]),
        st.sampled_from(["eastus", "westeurope"]),
    ),
    max_size=60,
)
amounts = st.one_of(
    st.integers(1, 25).map(n), st.floats(0.5, 100, allow_nan=False).map(lambda p: pct(round(p, 1)))
)


@settings(max_examples=300, deadline=None)
@given(fleets, st.lists(amounts, max_size=5), st.sampled_from(list(Order)), st.integers(0, 9))
def test_batches_partition_respect_sizes_order_and_groups(
    fleet: list[tuple[str | None, int | None, str]],
    sizes: list[Amount],
    order: Order,
    seed: int,
) -> None:
    targets = [target(f"vm-{i:03}", zone, fd, loc) for i, (zone, fd, loc) in enumerate(fleet)]
    random.Random(seed).shuffle(targets)  # selection order is arbitrary
    plan = plan_rollout(targets, RolloutPolicy(batches=tuple(sizes), order=order, seed=seed))
    flat = [t.id for b in plan.batches for t in b.targets]
    # A partition: every target exactly once, nothing invented, no empty batch.
    assert sorted(flat) == sorted(t.id for t in targets) and len(set(flat)) == len(flat)
    assert all(b.targets for b in plan.batches)
    assert [b.index for b in plan.batches] == list(range(1, len(plan.batches) + 1))
    # Sizes: batch k has the k-th size unless it ends its group (then it is the remainder).
    expected = batch_sizes(tuple(sizes), len(targets))
    groups = [b.group for b in plan.batches]
    for k, batch in enumerate(plan.batches):
        want = next(expected)
        ends_group = k + 1 == len(plan.batches) or groups[k + 1] != batch.group
        assert len(batch.targets) == want or (ends_group and len(batch.targets) < want)
    # Order: the flattened plan is exactly the ordered groups, and groups never interleave.
    ordered = [t.id for _, members in ordered_groups(targets, order, seed) for t in members]
    assert flat == ordered
    seen: list[str | None] = []
    for group in groups:
        if not seen or seen[-1] != group:
            assert group not in seen  # a group, once left, never comes back
            seen.append(group)
    if order is Order.ZONE_BY_ZONE:
        for batch in plan.batches:
            assert len({(t.location, t.zone) for t in batch.targets}) == 1  # never mixes zones
        zone_sizes = [len(members) for _, members in ordered_groups(targets, order)]
        assert zone_sizes == sorted(zone_sizes)  # smallest zone first
    if order is Order.FAULT_DOMAIN:
        for batch in plan.batches:
            assert len({t.fault_domain for t in batch.targets}) == 1
    if order is Order.AS_SELECTED:
        assert flat == [t.id for t in targets]
    if order is Order.NAME:
        assert flat == [t.id for t in sorted(targets, key=lambda t: t.name)]
    if sizes and targets and order in (Order.AS_SELECTED, Order.NAME, Order.RANDOM):
        assert len(plan.batches) <= len(targets)
        assert len(plan.batches[0].targets) == min(
            len(targets), sizes[0].at_least_one(len(targets))
        )
    assert all(batch.targets for batch in plan.batches)  # no empty batch


def test_batch_etas_carry_write_budgets_across_batches() -> None:
    from fleet.api.estimate import batch_estimates
    from fleet.model import Concurrency, JobSpec, ScriptSource, ScriptSpec, Selector, SourceKind

    targets = [target(f"vm-{i:04}") for i in range(2000)]
    policy = RolloutPolicy(batches=(n(1), n(999), pct(100)), order=Order.NAME, pause_s=60)
    script = ScriptSpec(ScriptSource(SourceKind.INLINE, "x"), timeout_s=600)
    spec = JobSpec("j", Selector(), script, Concurrency(count=1000), rollout=policy)
    etas = batch_estimates(spec, plan_rollout(targets, policy))
    assert [e.index for e in etas] == [1, 2, 3]
    assert etas[0].launch_s == 0.0  # a full bucket admits the canary at once
    # 999 writes against 180 (200 x 0.9 safety) refilling 9/s: (999 - 179) / 9 ≈ 91 s
    assert etas[1].launch_s == pytest.approx((999 - 179) / 9, rel=0.01)
    # By batch 3 the buckets refilled during batch 2's run and soak: the same bound again.
    assert etas[2].launch_s == pytest.approx((1000 - 180) / 9, rel=0.01)
    assert etas[0].done_by_s == pytest.approx(600 + 60)
    assert etas[2].done_by_s > etas[1].done_by_s > etas[0].done_by_s


def _forecast_of(targets: list[Target], seed: int, known_share: float = 0.8) -> Forecast:
    """Random expected times for most of ``targets`` (the rest: no history of their own)."""
    rng = random.Random(seed)
    known = {t.id.lower(): rng.choice([5.0, 20.0, 30.0, 90.0]) for t in targets}
    known = {k: v for k, v in known.items() if rng.random() < known_share}
    return Forecast(per_target=known, typical_s=30.0, spread=0.2, runs=2)


@settings(max_examples=200, deadline=None)
@given(fleets, st.lists(amounts, max_size=5), st.sampled_from(list(Order)), st.integers(0, 9))
def test_history_orders_inside_batches_only(
    fleet: list[tuple[str | None, int | None, str]],
    sizes: list[Amount],
    order: Order,
    seed: int,
) -> None:
    """With a forecast, every batch has the same members, size and group as without one (the
    canary is the same canary, zones and fault domains keep their meaning); only the order
    inside a batch changes: longest expected first, ties in the policy's order."""
    targets = [target(f"vm-{i:03}", zone, fd, loc) for i, (zone, fd, loc) in enumerate(fleet)]
    random.Random(seed).shuffle(targets)
    policy = RolloutPolicy(batches=tuple(sizes), order=order, seed=seed)
    forecast = _forecast_of(targets, seed)
    blind, informed = plan_rollout(targets, policy), plan_rollout(targets, policy, forecast)
    assert [(b.index, b.group) for b in informed.batches] == [
        (b.index, b.group) for b in blind.batches
    ]
    for before, after in zip(blind.batches, informed.batches, strict=True):
        assert sorted(t.id for t in after.targets) == sorted(t.id for t in before.targets)
        expected = [forecast.expected_s(t.id) for t in after.targets]
        assert expected == sorted(expected, reverse=True)
        position = {t.id: i for i, t in enumerate(before.targets)}
        for a, b in itertools.pairwise(after.targets):
            if forecast.expected_s(a.id) == forecast.expected_s(b.id):
                assert position[a.id] < position[b.id]  # ties keep the policy's order


def test_without_history_the_plan_is_exactly_as_before() -> None:
    """A job's first run has no forecast: its plan is the policy's, target for target; a
    forecast that knows none of the targets changes nothing either (all tie)."""
    targets = [target(f"vm-{i:02}", zone=str(i % 3 + 1)) for i in range(30)]
    random.Random(3).shuffle(targets)
    for order in Order:
        policy = RolloutPolicy(batches=(n(1), pct(25)), order=order, seed=4)
        blind = plan_rollout(targets, policy)
        assert plan_rollout(targets, policy, None) == blind
        stranger = Forecast(per_target={"/some/other/vm": 99.0}, typical_s=30.0, runs=1)
        assert plan_rollout(targets, policy, stranger) == blind


def test_canary_and_zones_keep_their_meaning_with_history() -> None:
    """zone-by-zone with a canary: the slowest VM of the fleet does not jump into the canary
    or into another zone's batch; inside its own batch it goes first."""
    targets = [target(f"vm-{i:02}", zone=str(i % 2 + 1)) for i in range(12)]
    slow = targets[7]  # zone 2, not the canary
    forecast = Forecast(per_target={slow.id.lower(): 300.0}, typical_s=30.0, runs=3)
    policy = RolloutPolicy(batches=(n(1), n(3)), order=Order.ZONE_BY_ZONE)
    blind = plan_rollout(targets, policy)
    informed = plan_rollout(targets, policy, forecast)
    assert informed.batches[0].targets == blind.batches[0].targets  # the canary
    home = next(b for b in informed.batches if slow in b.targets)
    assert home.targets[0] == slow
    assert home.group == next(b.group for b in blind.batches if slow in b.targets)


def test_expected_eta_from_history_fills_the_slots_longest_first() -> None:
    """``fleet plan``'s 'expected by': each PUT admitted (full buckets: at once), its agent's
    pickup, then the target's expected time, ``max_concurrency`` at a time; the soak pause
    between batches. Without history there is no expected end."""
    from fleet.api.estimate import batch_estimates
    from fleet.engine.polling import PollSettings
    from fleet.model import Concurrency, JobSpec, ScriptSource, ScriptSpec, Selector, SourceKind

    times = {"vm-a": 100.0, "vm-b": 50.0, "vm-c": 20.0, "vm-d": 10.0}
    targets = [target(name) for name in times]
    forecast = Forecast({t.id.lower(): times[t.name] for t in targets}, typical_s=35.0, runs=2)
    policy = RolloutPolicy(batches=(n(1), pct(100)), order=Order.NAME, pause_s=30)
    script = ScriptSpec(ScriptSource(SourceKind.INLINE, "x"), timeout_s=600)
    spec = JobSpec("j", Selector(), script, Concurrency(count=2), rollout=policy)
    plan = plan_rollout(targets, policy, forecast)
    assert [t.name for t in plan.batches[1].targets] == ["vm-b", "vm-c", "vm-d"]
    pickup = PollSettings().pickup_s
    first = pickup + 100.0  # the canary
    # batch 2 after the pause: b and c at once, d in c's slot once c is done; b ends last
    second = first + 30 + pickup + 50.0
    etas = batch_estimates(spec, plan, forecast=forecast)
    assert [e.expected_s for e in etas] == [pytest.approx(first), pytest.approx(second)]
    assert etas[1].expected_text != "-"
    assert all(e.expected_s is None for e in batch_estimates(spec, plan))

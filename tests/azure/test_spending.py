"""fleet.azure.spending: others' spending read from the server's counts, never over-estimated
where the refill is uncertain."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.azure.spending import MIN_SPAN_S, Refill, Spending

ARM = Refill(capacity=200, per_s=10.0)
COMPUTE = Refill(capacity=1500, per_s=500 / 60, period_s=60.0)


def _feed(spending: Spending, *, start: float, others: float, ours: float, seconds: float) -> None:
    """A server bucket at ``start`` tokens, spent by others and us at constant rates."""
    t, count, charged = 0.0, start, 0.0
    while t < seconds:
        t += 0.1
        count += (spending.refill.per_s - others - ours) * 0.1
        charged += ours * 0.1
        spending.observe(t, int(count), int(charged))


def test_others_are_what_the_count_lost_beyond_our_own_spending() -> None:
    spending = Spending(ARM)
    assert spending.span_s == 3.0  # 30 tokens of refill at 10/s
    _feed(spending, start=20, others=3.0, ours=6.0, seconds=10)
    assert spending.rate == pytest.approx(3.0, abs=0.4)


def test_nobody_else_reads_as_zero() -> None:
    spending = Spending(ARM)
    _feed(spending, start=10, others=0.0, ours=9.0, seconds=10)
    assert spending.rate == pytest.approx(0.0, abs=0.4)


def test_a_bucket_that_may_have_been_full_hides_others_and_the_estimate_decays() -> None:
    spending = Spending(ARM)
    spending.rate = 4.0
    _feed(spending, start=199, others=0.0, ours=0.0, seconds=10)  # full all along
    assert spending.rate < 0.5


def test_compute_reads_the_refill_step_as_absent_unless_a_whole_period_passed() -> None:
    """Inside one minute a Compute bucket gets no refill for sure: what it lost beyond our own
    spending was others'. A span that crosses the (unseen) step says nothing: not read."""
    spending = Spending(COMPUTE)
    assert spending.span_s == pytest.approx(3.6)  # 30 tokens at 500/min
    for t, count, ours in ((0.0, 900, 0), (4.0, 860, 20)):
        spending.observe(t, count, ours)
    assert spending.rate == pytest.approx(20 / 4)  # 40 lost, 20 of them ours
    spending.observe(8.0, 1300, 40)  # the step came: +500, 20 ours, others unknown
    assert spending.rate == pytest.approx(20 / 4)
    assert COMPUTE.at_least(59.0) == 0
    assert COMPUTE.at_most(59.0) == pytest.approx(500)
    assert COMPUTE.at_least(60.0) == pytest.approx(500)


def test_spans_are_short_enough_to_follow_changes() -> None:
    spending = Spending(ARM)
    for t in range(100):
        spending.observe(t * 0.05, 50, 0)
    assert len(spending._samples) <= 2 * MIN_SPAN_S / 0.05 * 3 + 2


@given(
    st.lists(st.tuples(st.floats(0.0, 2.0), st.integers(0, 200), st.integers(0, 5)), max_size=60)
)
def test_the_estimate_is_never_negative_whatever_the_counts(
    steps: list[tuple[float, int, int]],
) -> None:
    spending, t, ours = Spending(ARM), 0.0, 0
    for gap, count, spent in steps:
        t, ours = t + gap, ours + spent
        spending.observe(t, count, ours)
        assert spending.rate >= 0.0

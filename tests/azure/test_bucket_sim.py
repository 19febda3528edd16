"""fleet's bucket model against a server bucket that others spend too, in simulated time
(tests/azure/bucket_sim.py): zero 429s and the budget that is left used well — a spent bucket,
another client of the principal spending, a second fleet process, Compute's per-minute steps.
Counts only; the same scenarios at real timing against the emulator are in tests/e2e."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.azure.bucket_model import BucketModel
from fleet.azure.limits import ThrottleLimits
from fleet.sim.throttle import TokenBucket
from tests.azure.bucket_sim import Scenario, simulate

LIMITS = ThrottleLimits.published()
WRITES = LIMITS.arm["writes"]


def _arm_server() -> TokenBucket:
    return TokenBucket(200, 10.0)


def _left(s: Scenario) -> float:
    """The budget left to fleet: what the bucket holds when fleet starts, plus the refill
    others leave until the end (the bound fleet's makespan is compared with)."""
    held = max(0.0, 200 - s.spent + (10 - s.others_per_s) * s.start)
    return min(200.0, held) + (10 - s.others_per_s) * (s.seconds - s.start)


def test_fresh_subscription_paces_at_the_full_refill_once_learned() -> None:
    """The burst (180), 9/s until a span of counts shows nobody else spends (a few seconds),
    then the full 10/s (rule 3, issue #16): within 10 tokens of 180 + 10/s, no 429."""
    scenario = Scenario(WRITES, _arm_server())
    out = simulate(scenario, BucketModel(WRITES))
    assert out.refused == 0
    assert out.admitted >= 180 + 10 * (60 - 0.5) - 10
    assert out.admitted <= 200 + 10 * 60  # what the server can admit at all


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    others=st.sampled_from([1.0, 3.0, 6.0, 9.0]),
    latency=st.sampled_from([0.02, 0.3]),
    start=st.sampled_from([15.0, 31.3]),
)
def test_a_client_starting_mid_run_is_never_refused(
    others: float, latency: float, start: float
) -> None:
    """fleet alone at the full refill keeps the bucket near its reserve; another client of
    the principal then starts spending ``others``/s. It finds the reserve (10 writes), fleet's
    level drops with the next count and its pace with the estimate: neither is refused, and
    fleet goes on with about what the newcomer leaves."""
    scenario = Scenario(
        WRITES, _arm_server(), others_per_s=others, others_from=start, latency=latency,
        seconds=start + 30.0,
    )  # fmt: skip
    model = BucketModel(WRITES)
    out = simulate(scenario, model, step=0.004)
    assert (out.refused, out.others_refused) == (0, 0)
    assert model.spending is not None
    assert model.rate() <= 10.0 - model.spending.rate + 1e-9
    assert model.rate() <= 10.0 - others + 1.0


def test_spent_bucket_with_another_job_spending() -> None:
    """Issue #17: another job of the principal just used the burst and keeps using 3/s."""
    scenario = Scenario(WRITES, _arm_server(), spent=200, others_per_s=3.0)
    out = simulate(scenario, BucketModel(WRITES))
    assert (out.refused, out.others_refused) == (0, 0)
    assert out.admitted * 1.3 >= _left(scenario)


def test_pace_comes_back_when_the_other_job_stops() -> None:
    busy = Scenario(WRITES, _arm_server(), spent=200, others_per_s=3.0, others_until=20.0)
    out = simulate(busy, BucketModel(WRITES))
    assert out.refused == 0
    still = simulate(
        Scenario(WRITES, _arm_server(), spent=200, others_per_s=3.0), BucketModel(WRITES)
    )
    assert out.admitted > still.admitted + 0.5 * 3.0 * 40  # most of what the other left is used


def test_two_fleet_processes_split_the_bucket() -> None:
    ours, theirs = BucketModel(WRITES), BucketModel(WRITES)
    for model in (ours, theirs):
        model.set_peers(0.0, 2)  # what the keeper says once both are present
    out = simulate(Scenario(WRITES, _arm_server(), peers=(theirs,)), ours)
    assert out.refused == 0
    assert 0.35 < out.admitted / (200 + 10 * 59.5) < 0.5


def test_a_second_process_joining_mid_burst_stops_both_at_their_share() -> None:
    """The second run starts while the first is bursting (it sees the first's presence row at
    once); the first learns of it a keeper tick (0.25 s) later and stops at its half of what
    the last count said was left. Splitting only the burst and the pace let 16 through."""
    first, second = BucketModel(WRITES), BucketModel(WRITES)
    scenario = Scenario(
        WRITES, _arm_server(), peers=(second,), start=0.5, peers_start=0.7, share_at=0.95,
        latency=0.2,
    )  # fmt: skip
    out = simulate(scenario, first)
    assert out.refused == 0
    assert (first.peers, second.peers) == (2, 2)
    assert second.charged > 50  # the second run got its share too


def test_compute_subscription_bucket_spent_by_another_principal() -> None:
    limits = LIMITS.compute_subscription["UpdateVM"]
    server = TokenBucket(1500, 500, 60.0, discrete=True, created=-17.0)  # an unseen phase
    scenario = Scenario(limits, server, spent=1500, others_per_s=5.0, seconds=300.0)
    out = simulate(scenario, BucketModel(limits), step=0.01)
    assert out.refused <= 1  # at most the first probe, into a bucket at zero
    assert out.admitted >= 0.7 * (500 - 300) * 300 / 60


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spent=st.sampled_from([0, 120, 190, 200]),
    others=st.sampled_from([0.0, 1.0, 3.0, 5.0, 7.0]),
    latency=st.sampled_from([0.005, 0.05, 0.3]),
    until=st.sampled_from([10.0, float("inf")]),
)
def test_no_429_whatever_others_leave(
    spent: int, others: float, latency: float, until: float
) -> None:
    scenario = Scenario(
        WRITES, _arm_server(), spent=spent, others_per_s=others, others_until=until,
        latency=latency, seconds=40.0,
    )  # fmt: skip
    assert simulate(scenario, BucketModel(WRITES), step=0.004).refused == 0

"""fleet.azure.bucket_model: one bucket's rules, with time passed in (nothing sleeps).

ARM's write bucket at the default share: fleet's burst 180 and pace 9/s of the server's 200 and
10/s (azure-reference README, "Throttling limits"), counts read with 10 kept back."""

from __future__ import annotations

import math

import pytest

from fleet.azure.bucket_model import MIN_SHARE, BucketLimits, BucketModel
from fleet.azure.limits import ThrottleLimits
from fleet.azure.steps import Steps

WRITES = ThrottleLimits.published().arm["writes"]
CUSHION = 10  # LOW_WATER x 200: WRITES.sync_reserve
UPDATE_VM = ThrottleLimits.published().compute_subscription["UpdateVM"]


def _take_all(model: BucketModel, now: float) -> int:
    taken = 0
    while model.wait(now) == 0:
        model.take(now)
        taken += 1
    return taken


def test_a_new_bucket_sends_one_request_then_learns_the_count() -> None:
    model = BucketModel(WRITES)
    assert model.wait(0.0) == 0
    model.take(0.0)
    assert model.wait(0.0) == math.inf  # unknown: one probe in flight, nothing else
    model.answered(0.05, 199, charged=True)  # a fresh subscription: the bucket is full
    assert model.known
    assert _take_all(model, 0.05) == 180  # today's burst, with no time lost


def test_a_spent_bucket_is_learnt_before_anything_bursts() -> None:
    assert WRITES.sync_reserve == CUSHION
    model = BucketModel(WRITES)
    model.take(0.0)
    model.answered(0.05, CUSHION + 6, charged=True)  # another job of this principal spent it
    assert _take_all(model, 0.05) == 6
    wait = model.wait(0.05)
    assert 0 < wait < math.inf  # then at the pace, not a burst


def test_the_count_is_read_net_of_what_is_still_in_flight() -> None:
    model = BucketModel(WRITES)
    model.take(0.0)
    model.answered(0.01, 150 + CUSHION, charged=True)
    for _ in range(10):
        model.take(0.01)
    model.answered(0.02, 149 + CUSHION, charged=True)  # one of ours in that count, 9 to come
    assert model.reading(0.02).level == pytest.approx(140, abs=0.2)
    model.answered(0.02, 130 + CUSHION, charged=True)  # others took some: 8 of ours to come
    assert model.reading(0.02).level == pytest.approx(130 - 8, abs=0.2)


def test_a_known_level_is_only_ever_lowered_by_a_count() -> None:
    model = BucketModel(WRITES)
    model.take(0.0)
    model.answered(0.0, 20 + CUSHION, charged=True)
    model.take(0.0)
    model.answered(0.0, 150, charged=True)  # higher: possibly stale, ignored
    assert model.reading(0.0).level == pytest.approx(19)
    model.take(0.0)
    model.answered(0.0, 3 + CUSHION, charged=True)
    assert model.reading(0.0).level == pytest.approx(3)


def test_answers_without_counts_open_the_window_one_by_one() -> None:
    """Slow start for a bucket whose server never reports a count (a header dialect fleet
    cannot read): the window grows by one per answer until it covers the burst."""
    limits = BucketLimits(capacity=6, refill_per_s=1.0)
    model = BucketModel(limits)
    model.take(0.0)
    assert model.wait(0.0) == math.inf
    model.answered(0.0, None, charged=True)
    assert model.window == 2 and not model.known
    assert _take_all(model, 0.0) == 2
    for _ in range(2):
        model.answered(0.0, None, charged=True)
    assert model.window == 4
    for _ in range(2):
        model.answered(0.0, None, charged=True)
    assert model.known  # the window covers the burst: the model alone from here


def test_no_refill_before_the_server_first_answers() -> None:
    model = BucketModel(BucketLimits(capacity=1, refill_per_s=100.0))
    model.take(0.0)
    assert model.wait(10.0) == math.inf  # a thousand tokens' worth of time, but no answer
    model.answered(10.0, None, charged=True)
    assert model.wait(10.0) == pytest.approx(0.01)


def test_a_count_goes_stale_and_the_bucket_is_learnt_again() -> None:
    model = BucketModel(WRITES)
    model.take(0.0)
    model.answered(0.0, 199, charged=True)
    assert model.stale_s == 20  # 200 tokens at 10/s: it may have been refilled, or spent
    assert model.wait(19.0) == 0 and model.known
    assert model.wait(21.0) == 0 and not model.known
    model.take(21.0)
    assert model.wait(21.0) == math.inf  # one probe again


def test_restore_starts_from_an_estimate_that_refills() -> None:
    model = BucketModel(WRITES)
    model.restore(0.0, 0.5)
    assert model.wait(0.0) == pytest.approx(0.5 / 9)  # not frozen: the server's bucket exists
    model.restore(0.0, 1000)
    assert model.level == 180  # never above the burst


def _serve(
    model: BucketModel,
    phases: tuple[tuple[float, float], ...],
    *,
    server: float = 100.0,
    start: float = 0.0,
) -> tuple[int, int]:
    """A server bucket at 200 tokens refilling 10/s (continuous, as ARM's), fleet sending what
    its model allows and another client spending ``others`` per second until ``phase_end``
    (from ``start``; one request at a time, refused when the bucket is empty). Answers come at
    once, each with the server's count. Returns (the other's refused requests, fleet's refused
    requests)."""
    t, step, owed, refused, ours_refused = start, 0.05, 0.0, 0, 0
    if model.count is None:
        model.restore(t, min(server, model.cap))
    for phase_end, others in phases:
        while t < phase_end - 1e-9:
            t += step
            server = min(200.0, server + 10 * step)
            owed += others * step
            while owed >= 1:
                owed -= 1
                if server >= 1:
                    server -= 1
                else:
                    refused += 1
            while model.wait(t) == 0:
                model.take(t)
                if server < 1:
                    ours_refused += 1
                    model.answered(t, 0, charged=False)
                    model.throttled(t, 1.0)
                    break
                server -= 1
                model.answered(t, int(server), charged=True)
    return refused, ours_refused


def test_a_counted_bucket_alone_paces_at_the_full_refill() -> None:
    """Rule 3: once counts are read and the others' estimate says nobody else spends, the
    blind 10 % margin is not needed: fleet's pace is the published 10/s, never above."""
    model = BucketModel(WRITES)
    assert model.rate() == 9.0  # nothing counted yet: the configured share
    _serve(model, ((30.0, 0.0),))
    assert model.learned
    assert model.rate() == pytest.approx(10.0, abs=0.35)
    assert model.rate() <= 10.0


def test_pace_drops_to_what_others_leave_and_rises_when_they_stop() -> None:
    """Another client spending 3/s: the estimated others converge to 3/s and fleet's pace to
    what they leave, 10 - 3 = 7/s; when the other stops, fleet's pace returns to the full
    refill and never above. Nobody's request is refused."""
    model = BucketModel(WRITES)
    refused = _serve(model, ((30.0, 3.0),))
    assert model.spending is not None
    assert model.spending.rate == pytest.approx(3.0, abs=0.6)
    assert model.rate() == pytest.approx(7.0, abs=0.6)
    assert model.rate() <= 10.0 - model.spending.rate + 1e-9
    refused2 = _serve(model, ((60.0, 0.0),), server=model.count or 0, start=30.0)
    assert model.rate() == pytest.approx(10.0, abs=0.35)
    assert model.rate() <= 10.0
    assert (refused, refused2) == ((0, 0), (0, 0))


@pytest.mark.parametrize("others", [0.5, 2.0, 4.0, 7.0])
def test_with_others_measured_the_pace_is_at_most_what_they_leave(others: float) -> None:
    model = BucketModel(WRITES)
    _serve(model, ((10.0, 0.0),))
    assert model.learned and model.spending is not None
    model.spending.rate = others
    assert model.rate() <= 10.0 - others + 1e-9
    assert model.rate() == pytest.approx(max(10.0 - others, MIN_SHARE * 9.0), abs=0.35)


def test_a_client_that_starts_mid_run_is_never_refused() -> None:
    """fleet alone at the full refill keeps the bucket near its sync reserve; another client
    then starts spending 4/s. It takes the reserve at once, fleet's level drops with the next
    count (rule 2) and its pace with the estimate (rule 3): the newcomer is never refused,
    fleet is never refused, and fleet ends at what the newcomer leaves."""
    model = BucketModel(WRITES)
    assert _serve(model, ((40.0, 0.0), (80.0, 4.0)), server=200.0) == (0, 0)
    assert model.spending is not None
    assert model.spending.rate == pytest.approx(4.0, abs=0.6)
    assert model.rate() == pytest.approx(6.0, abs=0.6)


def test_an_uncounted_bucket_keeps_the_configured_share() -> None:
    """A bucket whose server reports no count fleet can read (slow start covered the burst)
    and a counted one whose others are not measured yet both keep the share: 9/s."""
    model = BucketModel(WRITES)
    for _ in range(200):
        model.take(0.0)
        model.answered(0.0, None, charged=True)
    assert model.known and not model.learned
    assert model.rate() == 9.0
    counted = BucketModel(WRITES)
    counted.take(0.0)
    counted.answered(0.0, 150, charged=True)
    assert counted.counted and not counted.learned  # one count: no span of them yet
    assert counted.rate() == 9.0


def test_a_stale_count_returns_the_pace_to_the_share() -> None:
    model = BucketModel(WRITES)
    _serve(model, ((10.0, 0.0),))
    assert model.rate() == pytest.approx(10.0, abs=0.35)
    model.wait(10.0 + model.stale_s + 1)
    assert not model.learned
    assert model.rate() <= 9.0


def test_a_429_still_halves_a_learned_pace() -> None:
    model = BucketModel(WRITES)
    _serve(model, ((10.0, 0.0),))
    full = model.rate()
    assert full > 9.0
    model.throttled(10.0, 1.0)
    assert model.rate() == pytest.approx(full / 2)


def test_pace_stays_within_its_configured_share_and_floor() -> None:
    model = BucketModel(WRITES)
    assert model.rate() == 9.0
    assert model.spending is not None
    model.spending.rate = 50.0  # others take everything
    assert model.rate() == pytest.approx(MIN_SHARE * 9.0)
    model.spending.rate = -5.0
    assert model.rate() == 9.0


def test_near_empty_counts_slow_the_pace_down_to_a_fifth() -> None:
    model = BucketModel(WRITES)
    model.take(0.0)
    model.answered(0.0, 0, charged=True)
    assert model.rate() == pytest.approx(9 * 0.2)
    model.take(0.0)
    model.answered(0.0, 5, charged=True)  # half of LOW_WATER x 200
    assert model.rate() == pytest.approx(9 * 0.6)
    model.take(0.0)
    model.answered(0.0, 15, charged=True)
    assert model.rate() == pytest.approx(9)


def test_a_429_pauses_and_halves_the_pace_which_recovers_additively() -> None:
    model = BucketModel(WRITES)
    model.restore(0.0, 0)
    model.throttled(0.0, 2.0)
    assert model.wait(1.0) == pytest.approx(1.0)
    assert model.rate() == pytest.approx(4.5)
    model.wait(3.0)
    assert model.rate() == pytest.approx(9.0 * 0.8)  # +0.1 per second
    model.wait(5.0)
    assert model.rate() == pytest.approx(9.0)
    model.pause(5.0, 1.0)
    model.pause(5.0, 0.5)  # pauses only ever extend
    assert model.wait(5.0) == pytest.approx(1.0)


def test_peers_split_the_burst_and_the_pace() -> None:
    model = BucketModel(WRITES)
    model.take(0.0)
    model.answered(0.0, 199, charged=True)
    model.set_peers(0.0, 2)
    assert (model.cap, model.rate(), model.level) == (90.0, 4.5, 90.0)
    model.set_peers(0.0, 1)
    assert (model.cap, model.rate()) == (180.0, 9.0)


def test_untake_gives_the_token_back() -> None:
    model = BucketModel(WRITES)
    model.take(0.0)
    model.untake(0.0)
    assert (model.in_flight, model.level) == (0, 180)


def test_compute_never_runs_ahead_of_a_drained_bucket() -> None:
    """Compute refills once a minute at an unseen phase. Once counted, fleet sends nothing
    beyond what the server surely holds: the last count, then its share of each step that has
    surely happened (a minute after the first count, and every minute after that)."""
    model = BucketModel(UPDATE_VM)
    model.take(0.0)
    model.answered(0.0, 1499, charged=True)
    assert (model.level, model.budget) == (900, 1499 - 75)  # the burst; the budget is no limit
    model.take(1.0)
    model.answered(1.0, 100, charged=True)  # another principal spent most of it
    assert model.level == model.budget == pytest.approx(100 - 75)
    for _ in range(25):
        model.take(1.0)
    assert model.wait(30.0) == pytest.approx(30.0)  # the pace would allow more; the budget not
    assert model.wait(60.0) == 0
    assert model.budget == pytest.approx(450)  # 0.9 x 500 at the sure step
    assert model.level == pytest.approx(7.5 * 59)  # still released at the pace
    assert model.steps is not None and model.steps.next_at == pytest.approx(120.0)


def test_a_count_that_jumps_shows_the_step_and_the_next_is_a_period_later() -> None:
    model = BucketModel(UPDATE_VM)
    model.take(0.0)
    model.answered(0.0, 200, charged=True)
    for _ in range(125):
        model.take(0.0)
    model.answered(10.0, 80, charged=True)
    assert model.wait(10.0) > 0  # spent down to the cushion
    model.answered(20.0, 570, charged=True)  # +490: the step came at 20 s at the latest
    assert model.budget == pytest.approx(570 - 75 - 123)  # what it gave, less what is in flight
    assert model.steps is not None and model.steps.next_at == pytest.approx(80.0)


def test_steps_ignore_counts_that_answers_overtaking_each_other_explain() -> None:
    steps = Steps(60.0, 500.0, 1500.0)
    assert not steps.observe(0.0, None, 1400, 0)
    assert steps.next_at == 60.0
    assert not steps.observe(1.0, 1000, 1030, in_flight=20)  # 30 up: 20 still in flight
    assert steps.observe(2.0, 1000, 1490, in_flight=20)  # a step (it filled the bucket)
    assert steps.next_at == 62.0
    assert steps.due(61.0) == 0 and steps.due(130.0) == 2 and steps.next_at == 182.0


def test_a_learned_compute_bucket_counts_on_the_whole_sure_step() -> None:
    """Rule 5 with rule 3: once the counts show nobody else spends from Update VM, each step
    that has surely happened gives fleet all of its 500 tokens (not 0.9 x 500); with others at
    2/s, the step less their 120 a minute."""
    for others, step in ((0.0, 500.0), (2.0, 380.0)):
        model = BucketModel(UPDATE_VM)
        count = 1400
        for t in range(6):
            model.take(float(t))
            count -= 1
            model.answered(float(t), count, charged=True)
        assert model.learned and model.spending is not None
        model.spending.rate = others
        before = model.budget
        model.wait(61.0)
        assert model.budget == pytest.approx(before + step)

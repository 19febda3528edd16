"""The collector's pace during a run (fleet.util.gc_policy): the run thresholds while any run is
inside, the process's own thresholds back when the last one leaves, also after an error."""

from __future__ import annotations

import gc

import pytest

from fleet.util.gc_policy import RUN_THRESHOLDS, fewer_collections


@pytest.fixture(autouse=True)
def own_thresholds() -> object:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_runs_collect_less_often_and_the_last_one_out_restores_the_thresholds() -> None:
    assert gc.get_freeze_count() == 0
    with fewer_collections():
        assert gc.get_threshold() == RUN_THRESHOLDS
        assert gc.get_freeze_count() > 0  # the heap from before the run is left out
        with fewer_collections():  # a second run at once (fleet serve)
            assert gc.get_threshold() == RUN_THRESHOLDS
        assert gc.get_threshold() == RUN_THRESHOLDS  # the first is still running
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0  # collectable again


def test_a_run_that_fails_still_restores_the_thresholds() -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("boom")
    assert gc.get_threshold() == (700, 10, 10)


def collections_while_allocating(n: int) -> int:
    """Collections the collector starts while ``n`` tracked objects are made and kept."""
    started: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(count)
    try:
        kept = [[i] for i in range(n)]
    finally:
        gc.callbacks.remove(count)
    assert len(kept) == n
    return len(started)


def test_a_run_collects_an_order_of_magnitude_less_often() -> None:
    default = collections_while_allocating(50_000)
    with fewer_collections():
        during_a_run = collections_while_allocating(50_000)
    assert default >= 50  # one per 700 allocations
    assert during_a_run <= default / 10

"""``make bench-temporal``'s harness on a small fleet (the built-in profile ``pair``: 32 targets
in two subscriptions), against the session's dev server: two worker processes, and the row it
writes says what the emulator's ground truth says — every target that ran ran once, no 429,
the statuses of the profile (east-04 and west-07 fail, east-12 is deallocated)."""

from __future__ import annotations

import pytest

from fleet.temporal.bench import Server, one
from tests.temporal.conftest import Space

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_the_bench_harness_measures_two_workers(space: Space) -> None:
    row = one(2, "pair", 20.0, 11, Server(space.target, space.namespace))
    assert row["ended"] == "completed" and row["targets"] == 32
    assert row["statuses"] == {"Succeeded": 29, "Failed": 2, "Skipped": 1}
    assert row["executions"] == 31 and row["executions_over_once"] == 0
    assert row["never_ran"] == 0 and row["throttled"] == 0
    assert len(row["worker_cpu_s"]) == 2
    assert row["temporal_cpu_s"] is None  # the shared server's CPU is not this run's
    assert row["activities"] >= 4 and row["parts"] == 2  # one part per subscription
    assert row["part_history_events_max"] > row["activities"] / 2


def test_two_workers_on_one_subscription_at_its_write_budget_get_no_429(space: Space) -> None:
    """300 targets in one subscription (bench-quick) at time scale 10: the write queue's limit
    (7.5 PUTs an Azure-second for all workers together) is close to Compute's Update VM refill
    (8.3 a second) — two workers launching side by side stay under it, and every target that
    ran ran once."""
    row = one(2, "bench-quick", 10.0, 300, Server(space.target, space.namespace))
    assert row["ended"] == "completed" and row["targets"] == 300
    assert row["throttled"] == 0
    assert row["executions_over_once"] == 0 and row["never_ran"] == 0
    assert row["executions"] == row["statuses"].get("Succeeded", 0) + row["statuses"].get(
        "Failed", 0
    )

"""Runs that are really at Azure's write limit, each checked against a control run that shows it
(counts of 429s, never timings, so a loaded machine changes nothing):

- fleet gets no 429 where the same run with fleet's limiter off gets many: the scenario is at
  the limit, and the limiter is what keeps fleet under it;
- when another client of the same principal drains the write budget (the emulator's background
  load), fleet re-syncs its buckets from the ``x-ms-ratelimit-remaining-*`` headers and gets
  few 429s; the same run with the headers ignored gets many more.

The emulator's ARM write bucket is scaled down (10 tokens, 5 a wall second at K=5) so a run is
at the limit with 50 targets, and fleet is told those limits (``ConnectionSettings.limits``). A
client would have to send fewer than ~7 PUTs a second — 32 are in flight at once — to stay
under them without a limiter; the SDK sends hundreds."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from fleet import api
from fleet.azure.bucket_model import BucketLimits
from fleet.azure.bucket_set import BucketSet
from fleet.azure.limits import ThrottleLimits
from fleet.engine.settings import EngineSettings
from fleet.model import RunReport, Status
from fleet.sim.profile import parse_profile
from tests import simkit
from tests.e2e.harness import job, sim_backend

pytestmark = pytest.mark.anyio

K = 5.0
WRITES = (10, 1.0)  # the emulator's ARM write bucket: capacity, refill per Azure-second
SUB = "33333333-3333-4333-8333-333333333333"


def at_the_limit(count: int, **sections: Any) -> Any:
    profile = {
        "name": f"at-the-limit-{count}",
        "seed": 5,
        "subscriptions": [{
            "id": SUB, "name": "limit",
            "resource_groups": [{
                "name": "rg-limit", "location": "eastus",
                "vms": [{"count": count, "name": "vm-{i:03d}"}],
            }],
        }],
        "script": {
            "pending": {"median": 2, "sigma": 0.2, "min": 1, "max": 4},
            "duration": {"median": 6, "sigma": 0.2, "min": 4, "max": 10},
            "outcomes": [{"name": "ok", "weight": 1, "output": "OK {hostname}"}],
        },
        "throttling": {"arm": {"writes": list(WRITES)}},
        **sections,
    }  # fmt: skip
    return parse_profile(profile, source="at-the-limit")


def fleet_limits(emulated: tuple[int, float] = WRITES) -> ThrottleLimits:
    """What fleet keeps to: the published limits, with the emulator's write bucket."""
    published = ThrottleLimits.published(0.9, time_scale=K)
    capacity, refill = emulated
    writes = BucketLimits(capacity * 0.9, refill * 0.9 * K)
    return dataclasses.replace(published, arm={**published.arm, "writes": writes})


NO_LIMITER = ThrottleLimits(safety=1.0)  # no bucket at all: every request goes at once


async def run(profile: Any, limits: ThrottleLimits) -> tuple[RunReport, int]:
    """The run's report and the 429s the emulator answered (every kind of request)."""
    async with sim_backend(profile, K, limits=limits) as (emu, backend):
        report = await api.run_async(job("limit", timeout_s=300), backend)
        stats = await simkit.ground_truth(emu)
        truth = await simkit.ground_truth(emu, "executions")
    assert all(r.status is Status.SUCCEEDED for r in report.results), report.summary
    assert {n["fleet-limit"] for n in truth["executed_per_target"].values()} == {1}
    assert len(truth["executed_per_target"]) == len(report.results)
    return report, int(stats["throttled_total"])


async def test_at_the_write_limit_fleet_gets_no_429_where_no_limiter_gets_many() -> None:
    profile = at_the_limit(50)
    control, control_429s = await run(profile, NO_LIMITER)
    real, real_429s = await run(profile, fleet_limits())
    assert control_429s >= 10, "the control must hit the limit, or the scenario proves nothing"
    assert control.arm.throttled == control_429s  # fleet saw each one and waited it out
    assert real_429s == 0 and real.arm.throttled == 0


async def test_a_drained_budget_is_learned_from_the_headers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The published write burst (200) with a slow refill (1 a second, 5 a wall second at K=5),
    # and another job of the same principal that has spent 195 of them when the emulator
    # starts: fleet's own model believes in 180 tokens; only the headers say how few are left.
    other = {"name": "other-job", "kind": "writes", "spent": 195}
    writes = (200, 1.0)
    profile = at_the_limit(40, background={"arm": [other]}, throttling={"arm": {"writes": writes}})
    limits = fleet_limits(writes)
    real, real_429s = await run(profile, limits)
    with monkeypatch.context() as patched:
        patched.setattr(BucketSet, "counts", lambda *args, **kwargs: {})  # headers ignored
        blind, blind_429s = await run(profile, limits)
    # Re-synced: only PUTs sent before the first answer can meet the drained bucket.
    assert real_429s <= EngineSettings().puts_in_flight, real_429s
    # Ignored: each 429 pays back one of the ~150 tokens fleet wrongly believes in (fewer only
    # if the emulator refilled for 25 s before the first PUT).
    assert blind_429s >= 100 and blind_429s >= 3 * real_429s, (real_429s, blind_429s)
    assert (real.arm.throttled, blind.arm.throttled) == (real_429s, blind_429s)

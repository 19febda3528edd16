"""The throttle bound for the budget other clients leave (issue #17), for scenarios with
background load (``background:``, posted to the emulator's ``/_sim/background`` as each
contender starts).

A load of writes on a subscription — another client of the same principal — spends ``spent``
tokens of ARM's write bucket (capacity C, refill r per second) when it starts, then ``rate`` per
second. When the contender starts ``held_s`` Azure-seconds later, the bucket holds at most

    R0 = min(C, max(0, C - spent) + (r - rate) * held_s)

and by ``t`` seconds later it can have given the contender at most ``R0 + (r - rate) * t``
without refusing the other client anything: a bucket of capacity R0 refilling at ``r - rate``,
in place of the full one in ``fleet.bench.lower_bound`` (same pairing of the earliest
admissions with the longest scripts). A contender that took what the other client was owed shows
up in the background's ``refused`` count, reported next to the bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fleet.bench.lower_bound import Bucket, LowerBound, bucket_groups, combine
from fleet.sim.profile import Profile


def _spending(profile: Profile, background: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """Subscription (lower case) -> (writes spent at the start, writes per second after)."""
    first = profile.subscriptions[0].id
    found: dict[str, tuple[float, float]] = {}
    for load in background.get("arm") or ():
        if load.get("kind", "writes") != "writes":
            continue
        sub = str(load.get("subscription") or first).lower()
        spent, rate = found.get(sub, (0.0, 0.0))
        found[sub] = (spent + float(load.get("spent", 0)), rate + float(load.get("rate_per_s", 0)))
    return found


def left_bound(
    profile: Profile,
    seed: int,
    timeout_s: float,
    script: str,
    background: Mapping[str, Any],
    held_s: float,
) -> LowerBound:
    """The bound when the contender starts ``held_s`` Azure-seconds after the loads did."""
    groups, targets, puts = bucket_groups(profile, seed, timeout_s, script)
    spending = _spending(profile, background)
    left: dict[Bucket, list[float]] = {}
    for bucket, durations in groups.items():
        kind, _, sub = bucket.name.partition(":writes:")
        if kind == "arm" and sub in spending:
            spent, rate = spending[sub]
            refill = max(1e-9, bucket.refill - rate)
            held = min(bucket.capacity, max(0.0, bucket.capacity - spent) + refill * held_s)
            bucket = replace(bucket, name=f"{bucket.name} (left)", capacity=held, refill=refill)
        left[bucket] = durations
    return combine(left, targets, puts)

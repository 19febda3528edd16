"""The rollout plan (pure): put the targets in the policy's order and cut them into batches.

Invariants (property-tested): the batches partition the targets — every target is in exactly
one batch; batch ``k`` has the ``k``-th size (the last size repeating) unless it is the last
batch of its group or of the run; under ``zone-by-zone`` and ``fault-domain`` a batch never
mixes groups — a batch that would cross into the next zone ends at the zone's boundary, and
the next batch starts the next zone with the next size. The first batch is the canary.

Orders: ``as-selected`` keeps selection order; ``name`` sorts by name; ``random`` shuffles
(by ARM id first, so the same seed gives the same plan whatever the input order);
``zone-by-zone`` goes one availability zone (of one region) at a time, the smallest zone first
(ties by zone name, then region; a region's targets without a zone form their own group), by
name inside a zone; ``fault-domain``
goes one platform fault domain at a time, 0 first, targets whose fault domain is unknown last.

With a ``Forecast`` (the job's history), each batch launches its longest-expected scripts first:
the batches are cut exactly as without one (same members, same sizes, same groups; the canary
is the same canary) and only the order inside each batch changes. Launching the longest scripts
first is what the throttle lower bound assumes (the write buckets admit the first PUTs earliest);
a target without a history of its own counts as the job's typical time, and ties keep the
policy's order, so a job's first run (no forecast) is planned exactly as before.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from fleet.model import Amount, Batch, Forecast, Order, RolloutPlan, RolloutPolicy, Target


def _by_name(target: Target) -> tuple[str, str]:
    return target.name.casefold(), target.id.lower()


def _zone_label(key: tuple[str, str | None]) -> str:
    location, zone = key
    return f"{location} zone {zone}" if zone is not None else f"{location} no zone"


def _zone_groups(targets: Sequence[Target]) -> list[tuple[str, list[Target]]]:
    # Zone "1" of eastus and zone "1" of westeurope are different datacenters: key by both.
    zones: dict[tuple[str, str | None], list[Target]] = {}
    for t in targets:
        zones.setdefault((t.location.lower(), t.zone), []).append(t)
    ordered = sorted(
        zones.items(), key=lambda kv: (len(kv[1]), kv[0][1] is None, kv[0][1] or "", kv[0][0])
    )
    return [(_zone_label(key), sorted(members, key=_by_name)) for key, members in ordered]


def _fault_domain_groups(targets: Sequence[Target]) -> list[tuple[str, list[Target]]]:
    domains: dict[int | None, list[Target]] = {}
    for t in targets:
        domains.setdefault(t.fault_domain, []).append(t)
    ordered = sorted(domains.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
    return [
        (f"fault domain {fd if fd is not None else 'unknown'}", sorted(members, key=_by_name))
        for fd, members in ordered
    ]


def ordered_groups(
    targets: Sequence[Target], order: Order, seed: int = 0
) -> list[tuple[str | None, list[Target]]]:
    """The targets in rollout order, as groups a batch never spans (one group if none)."""
    if order is Order.ZONE_BY_ZONE:
        return list(_zone_groups(targets))
    if order is Order.FAULT_DOMAIN:
        return list(_fault_domain_groups(targets))
    if order is Order.NAME:
        return [(None, sorted(targets, key=_by_name))]
    if order is Order.RANDOM:
        shuffled = sorted(targets, key=lambda t: t.id.lower())
        random.Random(seed).shuffle(shuffled)
        return [(None, shuffled)]
    return [(None, list(targets))]


def batch_sizes(sizes: Sequence[Amount], total: int) -> Iterator[int]:
    """The size of each batch in turn: the listed sizes, then the last one forever."""
    if not sizes:
        while True:
            yield max(1, total)
    for amount in sizes:
        yield amount.at_least_one(total)
    last = sizes[-1].at_least_one(total)
    while True:
        yield last


def plan_rollout(
    targets: Sequence[Target], policy: RolloutPolicy, forecast: Forecast | None = None
) -> RolloutPlan:
    """Cut ``targets`` (the ones the run will launch) into batches per ``policy``; with a
    ``forecast``, each batch in longest-expected-first order."""
    sizes = batch_sizes(policy.batches, len(targets))
    batches: list[Batch] = []
    for group, members in ordered_groups(targets, policy.order, policy.seed):
        start = 0
        while start < len(members):
            size = next(sizes)
            chunk = tuple(members[start : start + size])
            if forecast is not None:
                chunk = forecast.longest_first(chunk)
            batches.append(Batch(len(batches) + 1, group, chunk))
            start += size
    return RolloutPlan(policy.order, tuple(batches))

"""Azure's published throttling limits, and the share of them fleet allows itself (pure).

Numbers: azure-reference README, "Throttling limits". ARM: per subscription and principal,
continuous refill. Compute: per (subscription, region, policy) and per (resource, policy), whole
refills once a minute. Resource Graph: a fixed window of queries per user.

fleet takes ``safety`` (its configured share, 0.9 by default: room for other clients) of each
bucket's burst and refill: its pace while it cannot see the others. Once a bucket's counts and
the others' measured spending show them, its pace may rise to the full published refill less
what they spend (``fleet.azure.bucket_model``, rule 3); the burst stays ``safety`` of the
capacity, and every count is still read with ``sync_reserve`` kept back.

A Compute bucket refills *once a minute* at a phase fleet cannot see, while fleet's model refills
continuously, which can run ahead of a discrete bucket by one refill; so its burst is ``cap -
refill_per_min``: by ``t`` seconds after its creation the server has admitted ``cap + refill *
floor(t/60) >= cap - refill + refill * t/60``, which a continuous bucket of that capacity and rate
never exceeds (with counts, the bucket model's budget covers the rest: ``fleet.azure.bucket_model``,
rule 5). Every count is read with ``LOW_WATER`` of the capacity kept back (``sync_reserve``: 10 ARM
writes, 75 Update VM calls), a cushion for what others spend that the counts have not shown yet
(rule 3); fleet's own burst is below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet.azure.bucket_model import LOW_WATER, BucketLimits

# ARM per subscription and principal: (capacity, refill per second).
ARM_PUBLISHED: dict[str, tuple[float, float]] = {
    "reads": (250, 25.0),
    "writes": (200, 10.0),
    "deletes": (200, 10.0),
}
# Compute policies: (resource refill/min, resource cap, subscription refill/min, subscription cap).
COMPUTE_PUBLISHED: dict[str, tuple[float | None, float | None, float, float]] = {
    "PutVM": (4, 12, 500, 1500),
    "UpdateVM": (4, 12, 500, 1500),
    "DeleteVM": (4, 12, 500, 1500),
    "LowCostGetVM": (12, 36, 8000, 24000),
    "HighCostGetVM": (None, None, 300, 900),
    "GetOperation": (15, 45, 5000, 15000),
    "VMGuestPatch": (2, 6, 200, 600),
    "VMSSPut": (4, 12, 125, 375),
    "VMSSUpdate": (4, 12, 500, 1500),
    "VMSSDelete": (4, 12, 175, 525),
    "VMSSLowCostGet": (12, 36, 800, 2400),
    "VMSSHighCostGet": (10, 30, 360, 1080),
    "UpdateVMSSVMs": (4, 12, 500, 1500),
    "DeleteVMSSVMs": (4, 12, 500, 1500),
    "GetVMSSVMs": (12, 36, 2000, 6000),
}
GRAPH_PUBLISHED = (15, 5.0)  # queries per fixed window of seconds, per user


def resource_capacity(policy: str | None) -> float | None:
    """The published capacity of ``policy``'s per-resource bucket (None: it has none)."""
    published = COMPUTE_PUBLISHED.get(policy or "")
    return published[1] if published else None


def _minute_bucket(
    cap: float, refill_per_min: float, safety: float, scale: float, *, watch_others: bool
) -> BucketLimits:
    return BucketLimits(
        capacity=max(1.0, (cap - refill_per_min) * safety),
        refill_per_s=refill_per_min / 60.0 * safety * scale,
        sync_reserve=cap * LOW_WATER,
        server_capacity=cap,
        server_refill_per_s=refill_per_min / 60.0 * scale,
        refill_period_s=60.0 / scale,
        watch_others=watch_others,
    )


def _arm_bucket(cap: float, rate: float, safety: float, scale: float) -> BucketLimits:
    return BucketLimits(
        capacity=cap * safety,
        refill_per_s=rate * safety * scale,
        sync_reserve=cap * LOW_WATER,
        server_capacity=cap,
        server_refill_per_s=rate * scale,
    )


@dataclass(frozen=True)
class ThrottleLimits:
    """Every bucket's limits for one connection; empty dicts mean "no limit" for that kind."""

    safety: float = 0.9
    arm: dict[str, BucketLimits] = field(default_factory=dict)
    compute_subscription: dict[str, BucketLimits] = field(default_factory=dict)
    compute_resource: dict[str, BucketLimits] = field(default_factory=dict)
    graph: BucketLimits | None = None

    @classmethod
    def published(cls, safety: float = 0.9, time_scale: float = 1.0) -> ThrottleLimits:
        """Azure's published limits times ``safety``; ``time_scale`` speeds refills up K-fold
        (for the emulator run at ``--time-scale K``; capacities are unchanged there too)."""
        if not 0 < safety <= 1 or time_scale <= 0:
            message = f"need 0 < safety <= 1 and time_scale > 0, got {safety=} {time_scale=}"
            raise ValueError(message)
        arm = {
            kind: _arm_bucket(cap, rate, safety, time_scale)
            for kind, (cap, rate) in ARM_PUBLISHED.items()
        }
        subs, resources = {}, {}
        for policy, (res_refill, res_cap, sub_refill, sub_cap) in COMPUTE_PUBLISHED.items():
            subs[policy] = _minute_bucket(
                sub_cap, sub_refill, safety, time_scale, watch_others=True
            )
            if res_refill and res_cap:
                resources[policy] = _minute_bucket(
                    res_cap, res_refill, safety, time_scale, watch_others=False
                )
        # A fixed window of N queries: capacity + rate * window <= N keeps any window legal.
        queries, window = GRAPH_PUBLISHED
        graph = BucketLimits(queries * safety / 2, queries * safety / 2 / window * time_scale)
        return cls(safety, arm, subs, resources, graph)

    @classmethod
    def unlimited(cls) -> ThrottleLimits:
        """No client-side limit at all (a control run: requests go out as they come; 429s are
        still waited out by the throttle policy)."""
        return cls(safety=1.0)

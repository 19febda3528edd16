"""Every throttling bucket of one identity, keyed as Azure keys its limits, and which of them a
response's counts or a 429 are about.

* ARM: per (subscription, kind) — reads/writes/deletes (the principal is the set's identity);
* Compute: per (subscription, region, policy) and per (resource, policy);
* Resource Graph: one quota for the caller.

:meth:`BucketSet.settle` hands each bucket of an answered request the count its headers give it
(Compute's names: :mod:`fleet.azure.compute_counters`); :meth:`BucketSet.culprits` says which
buckets a 429 names. Buckets are created on first use, from a remembered estimate when the state
directory had one (``fleet.azure.bucket_keeper``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fleet.azure.bucket_model import BucketLimits
from fleet.azure.compute_counters import RESOURCE, Scope, attribute, refused_scopes
from fleet.azure.headers import RateLimitInfo, ThrottleError
from fleet.azure.limiter import Bucket, Clock, Sleep
from fleet.azure.limits import ThrottleLimits, resource_capacity
from fleet.azure.request_class import RequestClass

# 429s that are not throttling (Network RP: "resource locked by another operation"): the request
# waits, but no bucket is paused, so other requests are not slowed down.
_NOT_THROTTLING = {"retryableerrorduetoanotheroperation"}


class BucketSet:
    """Every bucket of one identity, created lazily, keyed as Azure keys its limits.

    ``remember`` gives a new bucket a starting estimate (from the journal); ``set_peers`` says
    how many fleet processes share each bucket (``fleet.azure.bucket_keeper``)."""

    def __init__(
        self, limits: ThrottleLimits, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, Bucket] = {}
        self._routes: dict[tuple[RequestClass, str | None], _Route] = {}
        self._remembered: dict[str, tuple[float, float]] = {}  # name -> (level, clock time)
        self._peers: Callable[[str], int] = lambda name: 1

    def __iter__(self) -> Iterator[Bucket]:
        return iter(list(self._buckets.values()))

    def _get(self, key: tuple[str | None, ...], limits: BucketLimits) -> Bucket:
        name = ":".join(k or "*" for k in key)
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = Bucket(limits, name=name, clock=self._clock, sleep=self._sleep)
            self._buckets[name] = bucket
            bucket.set_peers(self._peers(name))
            if name in self._remembered:
                level, at = self._remembered.pop(name)
                bucket.restore(level + bucket.model.rate() * max(0.0, self._clock() - at))
        return bucket

    def remember(self, estimates: dict[str, float]) -> None:
        """Starting levels for buckets not created yet (name -> tokens left now)."""
        now = self._clock()
        for name, level in estimates.items():
            if name not in self._buckets:
                self._remembered[name] = (level, now)

    def set_peers(self, peers: Callable[[str], int]) -> None:
        """``peers(name)``: fleet processes (this one included) drawing from bucket ``name``."""
        self._peers = peers
        for bucket in self:
            bucket.set_peers(peers(bucket.name))

    def arm_bucket(self, request_class: RequestClass) -> Bucket | None:
        limits = self.limits.arm.get(request_class.arm_kind or "")
        if limits is None:
            return None
        return self._get(("arm", request_class.subscription, request_class.arm_kind), limits)

    def _compute_sub(self, request_class: RequestClass, region: str | None) -> Bucket | None:
        policy = request_class.compute_policy
        limits = self.limits.compute_subscription.get(policy or "")
        if limits is None:
            return None
        # region unknown: one bucket across regions, stricter than Azure's per-region buckets
        return self._get(("compute", request_class.subscription, _region(region), policy), limits)

    def _compute_resource(self, request_class: RequestClass) -> Bucket | None:
        limits = self.limits.compute_resource.get(request_class.compute_policy or "")
        if limits is None or not request_class.resource:
            return None
        return self._get(("resource", request_class.resource, request_class.compute_policy), limits)

    def graph_bucket(self, request_class: RequestClass) -> Bucket | None:
        if not request_class.graph or self.limits.graph is None:
            return None
        return self._get(("graph",), self.limits.graph)

    def buckets_for(self, request_class: RequestClass, region: str | None) -> list[Bucket]:
        """Most specific first, so a token of the shared ARM bucket is taken just before sending."""
        return list(self._route(request_class, region).buckets)

    def _route(self, request_class: RequestClass, region: str | None) -> _Route:
        """The buckets of one kind of request, found once (every request asks twice: #16)."""
        key = (request_class, region)
        route = self._routes.get(key)
        if route is None:
            region = region or request_class.region
            route = _Route(
                self._compute_resource(request_class),
                self._compute_sub(request_class, region),
                self.arm_bucket(request_class),
                self.graph_bucket(request_class),
            )
            self._routes[key] = route
        return route

    def settle(
        self,
        request_class: RequestClass,
        region: str | None,
        info: RateLimitInfo | None,
        buckets: list[Bucket],
        *,
        charged: bool,
    ) -> None:
        """Every bucket of an answered request (``info``: its headers; None if it failed
        without an answer) takes the count the headers give it, if any."""
        counts = {} if info is None else self.counts(request_class, region, info)
        for bucket in buckets:
            bucket.answered(counts.get(bucket.name), charged=charged)
        graph = self._route(request_class, region).graph
        resets = info.graph_resets_after_s if info and info.graph_remaining == 0 else None
        if graph is not None and resets:
            graph.pause(resets)

    def counts(
        self, request_class: RequestClass, region: str | None, info: RateLimitInfo
    ) -> dict[str, int]:
        """Bucket name -> the count the headers attribute to it (what can be attributed only)."""
        route = self._route(request_class, region)
        found: dict[str, int] = {}
        arm, kind = route.arm, request_class.arm_kind
        if arm is not None and kind:
            known = [info.arm[k] for k in (kind, f"global-{kind}") if k in info.arm]
            if known:
                found[arm.name] = min(known)
        if info.compute:
            for scope, count in self._compute_counts(request_class, region, info).items():
                bucket = route.resource if scope == RESOURCE else route.subscription
                if bucket is not None:
                    found[bucket.name] = count
        if route.graph is not None and info.graph_remaining is not None:
            found[route.graph.name] = info.graph_remaining
        return found

    def _compute_counts(
        self, request_class: RequestClass, region: str | None, info: RateLimitInfo
    ) -> dict[Scope, int]:
        policy = request_class.compute_policy
        if not policy or not info.compute:
            return {}
        has_resource = self._route(request_class, region).resource is not None
        cap = resource_capacity(policy) if has_resource else None
        return attribute(policy, info.compute, resource_cap=cap)

    def culprits(
        self,
        request_class: RequestClass,
        region: str | None,
        error: ThrottleError,
        info: RateLimitInfo,
        buckets: list[Bucket],
    ) -> list[Bucket]:
        """The buckets a 429 says refused the request (all of its buckets when it names none;
        none when the 429 is not throttling)."""
        code = (error.code or "").lower()
        if code in _NOT_THROTTLING:
            return []
        if code == "subscriptionrequeststhrottled":
            named = self.arm_bucket(request_class)
            return [named] if named is not None else buckets
        if request_class.graph:
            graph = self.graph_bucket(request_class)
            return [graph] if graph is not None else buckets
        policy = request_class.compute_policy
        resource = self._compute_resource(request_class)
        sub = self._compute_sub(request_class, region or request_class.region)
        if not policy or sub is None or not (error.target or code == "operationnotallowed"):
            return buckets
        counts = self._compute_counts(request_class, region, info)
        cap = resource_capacity(policy) if resource is not None else None
        scopes = refused_scopes(
            policy, error.target, allowed=error.allowed, counts=counts, resource_cap=cap
        )
        refused = [resource if scope == RESOURCE else sub for scope in sorted(scopes)]
        return [b for b in refused if b is not None]


@dataclass(frozen=True)
class _Route:
    """The buckets one kind of request draws from (None: none of that scope)."""

    resource: Bucket | None
    subscription: Bucket | None
    arm: Bucket | None
    graph: Bucket | None

    @property
    def buckets(self) -> list[Bucket]:
        found = (self.resource, self.subscription, self.arm, self.graph)
        return [b for b in found if b is not None]


def _region(region: str | None) -> str | None:
    return region.lower().replace(" ", "") if region else None

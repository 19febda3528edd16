"""The emulator's throttling model: ARM, Compute RP and Resource Graph limits as token buckets.

Owns the published numbers (azure-reference README, "Throttling limits") and the headers Azure
puts on every response ("Throttling headers"). Pure: time is passed in as ``now`` (Azure-seconds)
and nothing here reads a clock or does I/O. The server turns a refused :class:`Decision` into a
429 with ``Retry-After``; that header is deliberately *not* in ``Decision.headers`` because it
must be converted from Azure-seconds to wall seconds by the clock's time scale first.

* ARM (:class:`ArmThrottle`): one bucket per (subscription, principal, kind) plus a
  subscription-wide "global" bucket per (subscription, kind) that is ``global_multiplier`` times
  larger and faster. Continuous refill. The refusal message quotes the wait in Azure-seconds.
* Compute (:class:`ComputeThrottle`): per policy, a subscription bucket per (subscription, region)
  and, when the policy has resource limits, a bucket per resource id; whole refills once a minute
  since the bucket's creation, starting full. Azure's names for the per-minute policies are not
  published; what the ``x-ms-ratelimit-remaining-resource`` header says depends on the header
  dialect (``throttle_headers``). By default our own convention::

      Microsoft.Compute/{Policy}.Resource;{n},Microsoft.Compute/{Policy}.Subscription;{m}

  (the resource part is omitted when no resource bucket applies). Clients must treat the policy
  part as opaque text, as they must with real Azure.
* Background load (``background``): other clients spending from these same buckets over time;
  when set, it is brought up to ``now`` before every check.
* Resource Graph (:class:`GraphQuota`): a fixed window per principal that opens at the
  principal's first query after the previous window ended.

Every check is all-or-nothing: a refused request takes no token from any bucket. With
``enabled=False`` every request is allowed, no bucket is created, and the headers report full
buckets (so clients that re-sync from headers see "no pressure").
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal, Protocol

from fleet.sim.throttle_headers import HeaderStyle, Remaining

# Float slack: 0.04 s x 25/s must count as a whole token, not 0.9999999.
_EPS = 1e-9

Kind = Literal["reads", "writes", "deletes"]


class Catchup(Protocol):
    """Spends what other clients spent up to ``now`` (``background.BackgroundLoad``)."""

    def advance(self, now: float) -> None: ...


_VERB: dict[str, str] = {"reads": "read", "writes": "write", "deletes": "delete"}


@dataclass(slots=True)
class TokenBucket:
    """``capacity`` tokens, ``refill_amount`` added per ``refill_interval`` seconds, starting full.

    ``discrete=True`` adds whole refills at ``created + k * refill_interval`` (Compute's
    per-minute refill); ``discrete=False`` refills continuously (ARM). Tokens above capacity are
    discarded. Time going backwards is ignored (no refill, no error).
    """

    capacity: float
    refill_amount: float
    refill_interval: float = 1.0
    discrete: bool = False
    created: float = 0.0
    tokens: float = field(init=False)
    # continuous: time of the last refill; discrete: number of boundaries already credited
    _stamp: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.capacity <= 0 or self.refill_amount <= 0 or self.refill_interval <= 0:
            raise ValueError(f"token bucket needs positive sizes, got {self!r}")
        self.tokens = float(self.capacity)
        self._stamp = 0.0 if self.discrete else self.created

    def _refill(self, now: float) -> None:
        if self.discrete:
            boundaries = math.floor((now - self.created) / self.refill_interval + _EPS)
            if boundaries > self._stamp:
                gained = (boundaries - self._stamp) * self.refill_amount
                self.tokens = min(self.capacity, self.tokens + gained)
                self._stamp = boundaries
        elif now > self._stamp:
            gained = (now - self._stamp) * self.refill_amount / self.refill_interval
            self.tokens = min(self.capacity, self.tokens + gained)
            self._stamp = now

    def can_take(self, now: float, n: float = 1) -> bool:
        self._refill(now)
        return self.tokens + _EPS >= n

    def take(self, now: float, n: float = 1) -> bool:
        if not self.can_take(now, n):
            return False
        self.tokens = max(0.0, self.tokens - n)
        return True

    def remaining(self, now: float) -> int:
        self._refill(now)
        return max(0, math.floor(self.tokens + _EPS))

    def wait_time(self, now: float, n: float = 1) -> float:
        """Seconds until ``n`` tokens are available (0 if now; ``inf`` if ``n`` > capacity)."""
        self._refill(now)
        missing = n - self.tokens
        if missing <= _EPS:
            return 0.0
        if n > self.capacity + _EPS:
            return math.inf
        if not self.discrete:
            return missing * self.refill_interval / self.refill_amount
        refills = math.ceil(missing / self.refill_amount - _EPS)
        return max(0.0, self.window(now)[1] - now) + (refills - 1) * self.refill_interval

    def window(self, now: float) -> tuple[float, float]:
        """Discrete buckets: (start, end) of the refill interval ``now`` falls in."""
        self._refill(now)
        start = self.created + self._stamp * self.refill_interval
        return start, start + self.refill_interval


def _lazy(
    buckets: dict[Any, TokenBucket], key: Any, make: Callable[[], TokenBucket]
) -> TokenBucket:
    """Buckets exist only once used: 10,000 VMs x a few policies stay cheap."""
    bucket = buckets.get(key)
    if bucket is None:
        bucket = buckets[key] = make()
    return bucket


@dataclass(frozen=True)
class Decision:
    """The outcome of one throttle check and the headers to put on the response either way."""

    allowed: bool
    headers: dict[str, str]
    retry_after_s: float = 0.0
    error_code: str | None = None
    error_message: str | None = None
    details: list[dict[str, str]] | None = None
    bucket: str | None = None


# ---------------------------------------------------------------------------------------- ARM


@dataclass(frozen=True)
class ArmLimits:
    """Per-principal (capacity, refill per second) by kind; global = ``global_multiplier`` x."""

    reads: tuple[float, float] = (250, 25.0)
    writes: tuple[float, float] = (200, 10.0)
    deletes: tuple[float, float] = (200, 10.0)
    global_multiplier: float = 15

    def for_kind(self, kind: str) -> tuple[float, float]:
        if kind not in _VERB:
            raise ValueError(f"unknown ARM request kind {kind!r}; expected one of {list(_VERB)}")
        capacity, rate = getattr(self, kind)
        return float(capacity), float(rate)


class ArmThrottle:
    """ARM's subscription limits: per principal and subscription-wide ("global"), per kind."""

    def __init__(self, limits: ArmLimits = ArmLimits(), enabled: bool = True) -> None:
        self.limits = limits
        self.enabled = enabled
        self.background: Catchup | None = None
        self._principal: dict[tuple[str, str, str], TokenBucket] = {}
        self._global: dict[tuple[str, str], TokenBucket] = {}

    def buckets(
        self, now: float, subscription: str, principal: str, kind: str
    ) -> tuple[TokenBucket, TokenBucket]:
        """The principal's bucket and the subscription-wide one (created full on first use)."""
        return self._buckets(now, subscription.lower(), principal.lower(), kind)

    def _buckets(
        self, now: float, sub: str, principal: str, kind: str
    ) -> tuple[TokenBucket, TokenBucket]:
        capacity, rate = self.limits.for_kind(kind)
        mult = self.limits.global_multiplier
        big = partial(TokenBucket, capacity * mult, rate * mult, created=now)
        small = partial(TokenBucket, capacity, rate, created=now)
        mine = _lazy(self._principal, (sub, principal, kind), small)
        glob = _lazy(self._global, (sub, kind), big)
        return mine, glob

    def check(self, now: float, subscription: str, principal: str, kind: Kind) -> Decision:
        capacity, _ = self.limits.for_kind(kind)
        if not self.enabled:
            full = _arm_headers(kind, capacity, capacity * self.limits.global_multiplier)
            return Decision(True, full)
        if self.background is not None:
            self.background.advance(now)
        mine, glob = self._buckets(now, subscription.lower(), principal.lower(), kind)
        mine_ok, glob_ok = mine.can_take(now), glob.can_take(now)
        if mine_ok and glob_ok:
            mine.take(now)
            glob.take(now)
            return Decision(True, _arm_headers(kind, mine.remaining(now), glob.remaining(now)))
        wait = max(b.wait_time(now) for b, ok in ((mine, mine_ok), (glob, glob_ok)) if not ok)
        message = (
            f"Number of '{_VERB[kind]}' requests for subscription '{subscription}' actor "
            f"'{principal}' exceeded. Please try again after '{math.ceil(wait - _EPS)}' seconds."
        )
        return Decision(
            allowed=False,
            headers=_arm_headers(kind, mine.remaining(now), glob.remaining(now)),
            retry_after_s=wait,
            error_code="SubscriptionRequestsThrottled",
            error_message=message,
            bucket=f"arm:{kind}" if not mine_ok else f"arm:global-{kind}",
        )


def _arm_headers(kind: str, mine: float, glob: float) -> dict[str, str]:
    return {
        f"x-ms-ratelimit-remaining-subscription-{kind}": str(int(mine)),
        f"x-ms-ratelimit-remaining-subscription-global-{kind}": str(int(glob)),
    }


# ------------------------------------------------------------------------------------ Compute


@dataclass(frozen=True)
class PolicyLimits:
    """One Compute throttling policy: refill per minute / capacity, per resource and per sub."""

    resource_refill_per_min: float | None
    resource_cap: float | None
    sub_refill_per_min: float
    sub_cap: float


COMPUTE_POLICIES: dict[str, PolicyLimits] = {
    "PutVM": PolicyLimits(4, 12, 500, 1500),
    "UpdateVM": PolicyLimits(4, 12, 500, 1500),
    "DeleteVM": PolicyLimits(4, 12, 500, 1500),
    "LowCostGetVM": PolicyLimits(12, 36, 8000, 24000),
    "HighCostGetVM": PolicyLimits(None, None, 300, 900),
    "GetOperation": PolicyLimits(15, 45, 5000, 15000),
    "VMGuestPatch": PolicyLimits(2, 6, 200, 600),
    "VMSSPut": PolicyLimits(4, 12, 125, 375),
    "VMSSUpdate": PolicyLimits(4, 12, 500, 1500),
    "VMSSDelete": PolicyLimits(4, 12, 175, 525),
    "VMSSLowCostGet": PolicyLimits(12, 36, 800, 2400),
    "VMSSHighCostGet": PolicyLimits(10, 30, 360, 1080),
    "UpdateVMSSVMs": PolicyLimits(4, 12, 500, 1500),
    "DeleteVMSSVMs": PolicyLimits(4, 12, 500, 1500),
    "GetVMSSVMs": PolicyLimits(12, 36, 2000, 6000),
}

# startTime/endTime in 429 details are this epoch + Azure-seconds unless the caller passes one.
_DEFAULT_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
_COMPUTE_MESSAGE = (
    "The server rejected the request because too many requests have been received for this {}."
)


class ComputeThrottle:
    """Compute RP's per-region, per-minute token buckets per policy (resource + subscription)."""

    def __init__(
        self,
        policies: Mapping[str, PolicyLimits] = COMPUTE_POLICIES,
        enabled: bool = True,
        *,
        epoch: datetime = _DEFAULT_EPOCH,
        headers: HeaderStyle | None = None,
    ) -> None:
        self.policies = policies
        self.enabled = enabled
        self.epoch = epoch
        self.headers = headers or HeaderStyle()
        self.background: Catchup | None = None
        self._subs: dict[tuple[str, str, str], TokenBucket] = {}
        self._resources: dict[tuple[str, str], TokenBucket] = {}

    def _scopes(
        self, now: float, subscription: str, region: str, policy: str, resource: str | None
    ) -> list[tuple[str, TokenBucket]]:
        """The buckets that apply, resource first; created full on first use."""
        limits = self._limits(policy)
        scopes: list[tuple[str, TokenBucket]] = []
        if (per_resource := _resource_limits(limits, resource)) is not None:
            make = partial(_minute_bucket, *per_resource, now)
            scopes.append(
                ("Resource", _lazy(self._resources, (str(resource).lower(), policy), make))
            )
        sub_key = (subscription.lower(), region.lower().replace(" ", ""), policy)
        make = partial(_minute_bucket, limits.sub_cap, limits.sub_refill_per_min, now)
        sub_bucket = _lazy(self._subs, sub_key, make)
        scopes.append(("Subscription", sub_bucket))
        return scopes

    def subscription_bucket(
        self, now: float, subscription: str, region: str, policy: str
    ) -> TokenBucket:
        """The (subscription, region, policy) bucket, created full on first use."""
        return self._scopes(now, subscription, region, policy, None)[-1][1]

    def _limits(self, policy: str) -> PolicyLimits:
        try:
            return self.policies[policy]
        except KeyError:
            raise ValueError(f"unknown Compute throttling policy {policy!r}") from None

    def check(
        self, now: float, subscription: str, region: str, policy: str, resource: str | None
    ) -> Decision:
        if not self.enabled:
            return Decision(True, self._full_headers(policy, resource))
        if self.background is not None:
            self.background.advance(now)
        scopes = self._scopes(now, subscription, region, policy, resource)
        refused = [(scope, b) for scope, b in scopes if not b.can_take(now)]
        if not refused:
            for _, bucket in scopes:
                bucket.take(now)
            return Decision(True, self._headers(policy, scopes, now))
        # When both refuse, report the one that keeps the caller waiting longest.
        scope, bucket = max(refused, key=lambda sb: sb[1].wait_time(now))
        return Decision(
            allowed=False,
            headers=self._headers(policy, scopes, now),
            retry_after_s=bucket.wait_time(now),
            error_code="OperationNotAllowed",
            error_message=_COMPUTE_MESSAGE.format(scope.lower()),
            details=[self._detail(policy, scope, bucket, now)],
            bucket=f"compute:{policy}:{scope.lower()}",
        )

    def _detail(self, policy: str, scope: str, bucket: TokenBucket, now: float) -> dict[str, str]:
        start, end = bucket.window(now)
        body = {
            "operationGroup": policy,
            "startTime": (self.epoch + timedelta(seconds=start)).isoformat(),
            "endTime": (self.epoch + timedelta(seconds=end)).isoformat(),
            "allowedRequestCount": int(bucket.capacity),
            "measuredRequestCount": int(bucket.capacity) + 1,
        }
        return {
            "code": "TooManyRequests",
            "target": self.headers.target(policy, scope),
            "message": json.dumps(body),
        }

    def _headers(
        self, policy: str, scopes: list[tuple[str, TokenBucket]], now: float
    ) -> dict[str, str]:
        counters = [
            Remaining(scope, b.remaining(now), b.refill_amount, b.capacity) for scope, b in scopes
        ]
        return self.headers.headers(policy, counters)

    def _full_headers(self, policy: str, resource: str | None) -> dict[str, str]:
        limits = self._limits(policy)
        counters = []
        if (per_resource := _resource_limits(limits, resource)) is not None:
            cap, refill = per_resource
            counters.append(Remaining("Resource", int(cap), refill, cap))
        cap, refill = limits.sub_cap, limits.sub_refill_per_min
        counters.append(Remaining("Subscription", int(cap), refill, cap))
        return self.headers.headers(policy, counters)


def _resource_limits(limits: PolicyLimits, resource: str | None) -> tuple[float, float] | None:
    """(capacity, refill per minute) of the per-resource bucket, or None when none applies."""
    cap, refill = limits.resource_cap, limits.resource_refill_per_min
    if not resource or cap is None or not refill:
        return None
    return cap, refill


def _minute_bucket(capacity: float, refill_per_min: float, now: float) -> TokenBucket:
    return TokenBucket(capacity, refill_per_min, 60.0, discrete=True, created=now)


# ----------------------------------------------------------------------------- Resource Graph

_GRAPH_MESSAGE = (
    "Client application has been throttled and should not attempt to repeat the request until "
    "an amount of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help."
)


class GraphQuota:
    """Resource Graph's per-user quota: ``queries`` per fixed ``window_s`` window."""

    def __init__(self, queries: int = 15, window_s: float = 5.0, enabled: bool = True) -> None:
        if queries <= 0 or window_s <= 0:
            raise ValueError(f"quota needs positive sizes, got {queries=} {window_s=}")
        self.queries = queries
        self.window_s = window_s
        self.enabled = enabled
        self._windows: dict[str, tuple[float, int]] = {}  # principal -> (window start, used)

    def check(self, now: float, principal: str) -> Decision:
        if not self.enabled:
            return Decision(True, _graph_headers(self.queries, self.window_s))
        key = principal.lower()
        start, used = self._windows.get(key, (-math.inf, 0))
        if now >= start + self.window_s:
            start, used = now, 0
        end = start + self.window_s
        if used < self.queries:
            self._windows[key] = (start, used + 1)
            return Decision(True, _graph_headers(self.queries - used - 1, end - now))
        return Decision(
            allowed=False,
            headers=_graph_headers(0, end - now),
            retry_after_s=end - now,
            error_code="RateLimiting",
            error_message=_GRAPH_MESSAGE,
            details=[{"code": "RateLimiting", "message": _GRAPH_MESSAGE}],
            bucket="graph:user",
        )


def _graph_headers(remaining: int, resets_after: float) -> dict[str, str]:
    return {
        "x-ms-user-quota-remaining": str(remaining),
        "x-ms-user-quota-resets-after": format_hms(resets_after),
    }


def format_hms(seconds: float) -> str:
    """``hh:mm:ss`` rounded up to whole seconds (``x-ms-user-quota-resets-after``); >= 0."""
    total = max(0, math.ceil(seconds - _EPS))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"

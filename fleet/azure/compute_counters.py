"""Which Compute bucket a counter of ``x-ms-ratelimit-remaining-resource`` — or the ``target`` of a
Compute 429 — is about, or that this cannot be told (pure; issue #9, "throttle headers fleet
cannot name").

Azure has not published the counter names of its per-minute policies (azure-reference README,
"Throttling headers"). Responses seen in captures carry the older per-window names
(``Microsoft.Compute/PutVM3Min;239,Microsoft.Compute/PutVM30Min;1198``), several counters for one
policy (a 3- and a 30-minute window; per resource and per subscription, in one value or in
repeated header lines, with nothing to tell the scopes apart), and some responses carry none.
fleet uses what it can attribute and never slows below the published pace because of a counter it
cannot:

1. **Names.** A counter is about the request's policy only when its name is that policy
   (``UpdateVM``, ``UpdateVM.Resource``, ``UpdateVM3Min``) or the policy's name under the
   per-window model *with a window* (``PutVM3Min`` for Update VM: in the captures VM writes are
   ``PutVM``, VM gets ``LowCostGet``/``HighCostGet``, scale-set gets ``GetVMScaleSet``,
   scale-set deletes ``DeleteVMScaleSet``). A bare ``PutVM`` is the per-minute model's VM-create
   policy, not Update VM. Any other name is ignored: it is not this request's bucket.
2. **Windows.** A per-window counter is read as the per-minute bucket's count only for a window
   of at most :data:`SHORT_WINDOW_MIN` minutes (the per-window model's short window was what
   could be spent in a burst); the shortest such window wins. Longer windows (``...30Min``)
   bounded spending over half an hour, which the per-minute model does not limit: ignored.
3. **Scopes.** ``.Resource`` / ``.Subscription`` (the emulator's ``current`` dialect) say it.
   Otherwise, on a request charged to the subscription bucket only, the count is the
   subscription's; on a request charged to both, a count above the resource bucket's published
   capacity can only be the subscription's, and once one is, a count within that capacity is the
   resource's. A small count that cannot be told apart is ignored.
4. Several counts for one scope: the smallest.

A 429's ``target`` names the policy (and maybe the scope) that refused: :func:`refused_scopes`
applies the same rules, then the same response's counts (the scope at zero), then the body's
``allowedRequestCount`` (a bucket's capacity), and pauses both Compute scopes only when
nothing tells them apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Scope = Literal["resource", "subscription"]
RESOURCE: Scope = "resource"
SUBSCRIPTION: Scope = "subscription"

SHORT_WINDOW_MIN = 3
# fleet's policy name -> its name under the per-window model (captures: azure-reference README
# "Throttling headers"; troubleshooting-throttling-errors docs)
WINDOWED_NAMES: dict[str, str] = {
    "UpdateVM": "PutVM",
    "LowCostGetVM": "LowCostGet",
    "HighCostGetVM": "HighCostGet",
    "VMSSLowCostGet": "GetVMScaleSet",
    "VMSSDelete": "DeleteVMScaleSet",
}
_WINDOW = re.compile(r"^(?P<base>.*?[^\d])(?P<minutes>\d{1,4})min$", re.IGNORECASE)
_SCOPES: dict[str, Scope] = {"resource": RESOURCE, "subscription": SUBSCRIPTION}


@dataclass(frozen=True)
class CounterName:
    base: str
    scope: Scope | None = None
    window_min: int | None = None


def parse_name(token: str) -> CounterName:
    """``UpdateVM.Resource`` / ``PutVM3Min`` / ``UpdateVM`` -> its parts (never raises)."""
    base, dot, suffix = token.strip().rpartition(".")
    if dot and suffix.lower() in _SCOPES:
        return CounterName(base, _SCOPES[suffix.lower()])
    match = _WINDOW.match(token.strip())
    if match:
        return CounterName(match["base"], None, int(match["minutes"]))
    return CounterName(token.strip())


def is_policy(name: CounterName, policy: str) -> bool:
    """Rule 1: the name is ``policy``'s (or its per-window name, with a window)."""
    base = name.base.lower()
    if base == policy.lower():
        return True
    windowed = WINDOWED_NAMES.get(policy)
    return name.window_min is not None and windowed is not None and base == windowed.lower()


def _ours(policy: str, counters: Iterable[tuple[str, int]]) -> list[tuple[CounterName, int]]:
    """Rules 1 and 2: the counters about ``policy`` in the window that counts."""
    named = [(parse_name(token), count) for token, count in counters]
    ours = [(n, c) for n, c in named if is_policy(n, policy)]
    short = [n.window_min for n, _ in ours if n.window_min and n.window_min <= SHORT_WINDOW_MIN]
    window = min(short, default=None)
    return [(n, c) for n, c in ours if n.window_min is None or n.window_min == window]


def attribute(
    policy: str, counters: Iterable[tuple[str, int]], *, resource_cap: float | None
) -> dict[Scope, int]:
    """The count per scope that the counters of one response attribute (rules 1-4).

    ``resource_cap``: the published capacity of the policy's resource bucket when the request is
    charged to one; ``None`` when it is charged to the subscription bucket only.
    """
    found: dict[Scope, list[int]] = {RESOURCE: [], SUBSCRIPTION: []}
    unscoped: list[int] = []
    for name, count in _ours(policy, counters):
        if name.scope is not None:
            found[name.scope].append(count)
        else:
            unscoped.append(count)
    if resource_cap is None:
        found[SUBSCRIPTION] += unscoped
        found[RESOURCE] = []
    else:
        found[SUBSCRIPTION] += [c for c in unscoped if c > resource_cap]
        if found[SUBSCRIPTION]:
            found[RESOURCE] += [c for c in unscoped if c <= resource_cap]
    return {scope: min(counts) for scope, counts in found.items() if counts}


def refused_scopes(
    policy: str,
    target: str | None,
    *,
    allowed: int | None,
    counts: Mapping[Scope, int],
    resource_cap: float | None,
) -> set[Scope]:
    """The scope(s) a Compute 429 on a ``policy`` request says refused it (see module doc)."""
    scopes: set[Scope] = {SUBSCRIPTION} if resource_cap is None else {RESOURCE, SUBSCRIPTION}
    if len(scopes) == 1:
        return scopes
    if target:
        name = parse_name(target)
        if name.scope is not None and is_policy(name, policy):
            return {name.scope}
    empty = {scope for scope, count in counts.items() if count == 0}
    if len(empty) == 1:
        return empty
    if allowed is not None and resource_cap is not None:
        return {RESOURCE} if allowed <= resource_cap else {SUBSCRIPTION}
    return scopes

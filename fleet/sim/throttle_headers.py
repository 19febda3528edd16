"""How Compute's ``x-ms-ratelimit-remaining-resource`` header (and the ``target`` of a Compute 429)
names the buckets, per header *dialect*. The buckets and limits enforced are the same in every
dialect (``throttle``); only what the responses say about them changes.

- ``current`` (default): our own names for the per-minute policies, one counter per scope,
  ``Microsoft.Compute/UpdateVM.Resource;11,Microsoft.Compute/UpdateVM.Subscription;1499``.
  Azure has not published the names it uses under the per-minute model.
- ``windowed``: the names of the older per-window model seen in captures, two counters per
  scope (a 3-minute and a 30-minute window), resource and subscription counters in one value
  with nothing to tell them apart, e.g.
  ``Microsoft.Compute/PutVM3Min;11,Microsoft.Compute/PutVM30Min;119,Microsoft.Compute/PutVM3Min;1499,...``
  (captures in SDK test recordings: ``PutVM3Min;239,PutVM30Min;1198``, ``LowCostGet3Min;3998,
  LowCostGet30Min;31997``, ``GetOperation3Min;49999,GetOperation30Min;399976``,
  ``GetVMScaleSet3Min``, ``DeleteVMScaleSet3Min``; troubleshooting-throttling-errors docs, whose
  429 ``target`` is a windowed name like ``HighCostGet30Min``). Our conventions: the 3-minute
  counter is the bucket's remaining tokens; the 30-minute one adds 27 minutes of refill, capped
  at ten buckets; a run-command write (our ``UpdateVM``) is counted as ``PutVM``, as VM updates
  were in the captures; policies without a captured name keep theirs. When both scopes apply,
  half of the responses (seeded) send them as two lines of the same header, as the
  troubleshooting docs show, and the others in one comma-joined value, as the recordings do
  (a client that reads only the first line sees only the resource's counters).
- ``none``: no Compute header at all.

In every dialect a ``missing`` share of Compute responses carries no Compute header (real
responses sometimes lack it); which ones is drawn from a seeded RNG.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

HEADER = "x-ms-ratelimit-remaining-resource"
#: Separates the lines of a header sent several times (a value can never contain a newline);
#: ``http.set_headers`` turns it into repeated header lines.
REPEAT = "\n"

_WINDOWED_NAMES = {
    "UpdateVM": "PutVM",
    "LowCostGetVM": "LowCostGet",
    "HighCostGetVM": "HighCostGet",
    "VMSSLowCostGet": "GetVMScaleSet",
    "VMSSDelete": "DeleteVMScaleSet",
}


class HeaderDialect(StrEnum):
    CURRENT = "current"
    WINDOWED = "windowed"
    NONE = "none"


@dataclass(frozen=True)
class Remaining:
    """One bucket's state as a header reports it."""

    scope: str  # "Resource" | "Subscription"
    remaining: int
    refill_per_min: float
    capacity: float


@dataclass
class HeaderStyle:
    """The dialect in force and the share of responses without a Compute header."""

    dialect: HeaderDialect = HeaderDialect.CURRENT
    missing: float = 0.0
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.dialect = HeaderDialect(self.dialect)
        self._rng = random.Random(f"{self.seed}|compute-headers")

    def headers(self, policy: str, counters: list[Remaining]) -> dict[str, str]:
        """The Compute header for one response (empty when this response carries none)."""
        if self.missing and self._rng.random() < self.missing:
            return {}
        if self.dialect is HeaderDialect.NONE or not counters:
            return {}
        if self.dialect is HeaderDialect.WINDOWED:
            name = windowed_name(policy)
            scopes = [",".join(_windows(name, c)) for c in counters]
            # both forms are documented: repeated header lines (D-CTE) or one joined value
            joint = REPEAT if len(scopes) > 1 and self._rng.random() < 0.5 else ","
            return {HEADER: joint.join(scopes)}
        else:
            parts = [f"Microsoft.Compute/{policy}.{c.scope};{c.remaining}" for c in counters]
        return {HEADER: ",".join(parts)}

    def target(self, policy: str, scope: str) -> str:
        """``details[0].target`` of a Compute 429: the policy (window) that refused."""
        if self.dialect is HeaderDialect.WINDOWED:
            return f"{windowed_name(policy)}3Min"
        if self.dialect is HeaderDialect.NONE:
            return policy
        return f"{policy}.{scope}"


def windowed_name(policy: str) -> str:
    return _WINDOWED_NAMES.get(policy, policy)


def _windows(name: str, c: Remaining) -> tuple[str, str]:
    long = min(int(c.capacity * 10), c.remaining + int(27 * c.refill_per_min))
    return (
        f"Microsoft.Compute/{name}3Min;{c.remaining}",
        f"Microsoft.Compute/{name}30Min;{long}",
    )

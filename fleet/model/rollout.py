"""The rollout's vocabulary: the policy a job's ``rollout:`` section means, the plan of batches
cut from it (``fleet.rollout.batches`` cuts them), and the record of how a rollout went.

Frozen dataclasses only. Durations are Azure seconds; the engine divides them by its time
scale, as it does for every other Azure-time constant.

Rounding, stated once because operators ask: a percentage *batch size* rounds **up** with a
minimum of 1 (``"10%"`` of 15 targets is 2), so a batch is never empty; a percentage
*error budget* rounds **down** (``"10%"`` of 15 is 1), so the budget never allows more than
the stated share. Both are percentages of the targets the rollout will launch (selected
targets minus the ones preflight skips).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from fleet.model.hygiene import Cleanup
from fleet.model.reboot import RebootPolicy
from fleet.model.script import ScriptSpec
from fleet.model.targets import Target

#: Azure-seconds a run command may stay Pending (the VM agent not picking it up) before fleet
#: reports the target AgentNotReady. Compute itself fails the operation with
#: VMAgentStatusCommunicationError about 25 minutes after the request (25m22s in the captures of
#: azure-powershell#5741 and #5838; azure-xplat-cli#2794): a minute past that, Azure's own verdict
#: is normally what fleet reports, and fleet never gives up on a command Azure may still deliver.
PENDING_TIMEOUT_S = 26 * 60


class Order(StrEnum):
    AS_SELECTED = "as-selected"  # the order selection returned (by ARM id)
    NAME = "name"
    RANDOM = "random"  # shuffled with the policy's seed: the plan is reproducible
    ZONE_BY_ZONE = "zone-by-zone"  # one availability zone at a time, smallest first
    FAULT_DOMAIN = "fault-domain"  # one platform fault domain at a time, 0 first


@dataclass(frozen=True)
class Amount:
    """A number of targets or a percentage of them (exactly one is set)."""

    count: int | None = None
    percent: float | None = None

    def at_least_one(self, total: int) -> int:
        """Batch sizes: percentages round up, never below 1."""
        if self.count is not None:
            return max(1, self.count)
        return max(1, math.ceil(total * (self.percent or 0.0) / 100 - 1e-9))

    def rounded_down(self, total: int) -> int:
        """Error budgets: percentages round down (may be 0: the first error halts)."""
        if self.count is not None:
            return max(0, self.count)
        return max(0, math.floor(total * (self.percent or 0.0) / 100 + 1e-9))

    def __str__(self) -> str:
        if self.count is not None:
            return str(self.count)
        return f"{self.percent:g}%"


@dataclass(frozen=True)
class HealthGate:
    """A check between batches: ``script`` must exit ``expect_exit_code`` (and its output match
    ``expect_output``, a regular expression searched in stdout) on every checked target —
    the batch just completed, or the targets named by ``sentinels`` (name globs)."""

    name: str
    script: ScriptSpec
    expect_exit_code: int = 0
    expect_output: str | None = None
    sentinels: tuple[str, ...] = ()


@dataclass(frozen=True)
class RolloutPolicy:
    batches: tuple[Amount, ...] = ()  # the last size repeats; () = one batch of everything
    order: Order = Order.AS_SELECTED
    seed: int = 0
    max_errors: Amount | None = None  # None = no error budget
    count_platform_failures: bool = False  # do not-running/denied/agent-not-ready spend it?
    pause_s: int = 0  # soak time after a batch, before its gate and the next batch
    gates: tuple[HealthGate, ...] = ()
    deadline_s: int | None = None  # for the whole run, from the first launch
    cancel_grace_s: int = 300  # how long a stop waits for running targets before leaving them
    cancel_running: bool = False  # a stop deletes in-flight run commands at once
    confirm_over: int = 10  # the CLI asks before running on more targets than this
    cleanup: Cleanup = Cleanup.KEEP_LAST  # what fleet deletes once a result is read
    pending_timeout_s: int = PENDING_TIMEOUT_S  # Pending longer than this = AgentNotReady
    # restart the VM after its script (never by default)
    reboot: RebootPolicy = field(default_factory=RebootPolicy)


@dataclass(frozen=True)
class Batch:
    index: int  # 1-based; batch 1 is the canary
    group: str | None  # "zone 2", "fault domain 0", ... (None when the order has no groups)
    targets: tuple[Target, ...]

    def record(self, *, started: bool = False) -> BatchRecord:
        return BatchRecord(self.index, self.group, tuple(t.id for t in self.targets), started)


@dataclass(frozen=True)
class RolloutPlan:
    """The targets a run launches, in the policy's order, cut into batches."""

    order: Order
    batches: tuple[Batch, ...]

    @property
    def targets(self) -> list[Target]:
        return [t for batch in self.batches for t in batch.targets]


@dataclass(frozen=True)
class BatchRecord:
    index: int  # 1-based
    group: str | None  # "zone 2", "fault domain 1", ... when the order groups targets
    target_ids: tuple[str, ...]
    started: bool = False  # False: the rollout stopped before this batch


@dataclass(frozen=True)
class GateRecord:
    gate: str
    batch: int  # the batch it ran after
    passed: bool
    reason: str  # why it failed, or "ok"
    target_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RolloutRecord:
    """How the rollout went: the batches as planned and run, gate verdicts, the error budget."""

    order: str
    batches: tuple[BatchRecord, ...] = ()
    gates: tuple[GateRecord, ...] = ()
    max_errors: int | None = None  # resolved budget; None = no budget
    script_failures: int = 0
    platform_failures: int = 0
    count_platform_failures: bool = False

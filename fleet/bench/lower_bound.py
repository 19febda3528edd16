"""The throttle lower bound of a scenario, computed from its profile (no emulator, no I/O).

Every running target needs one run-command PUT. Each PUT takes a token from the subscription's
ARM write bucket (per principal: 200 burst + 10/s, continuous refill; and the subscription-wide
"global" bucket, 15x larger) and from the Compute RP bucket of its (subscription, region, policy):
Update VM for VMs and Flexible members, Update VMSS VMs for Uniform instances (1,500 burst, then
500 whole tokens once a minute). A bucket with capacity C admits its k-th request no earlier than

    continuous:  t(k) = max(0, (k - C) / rate)
    per minute:  t(k) = 60 s * ceil((k - C) / refill)   (0 when k <= C)

Target i then needs its planned pickup delay plus script duration d_i (the emulator's seeded
outcome model: the *actual planned* durations of this seed, not the distribution's max). Even a
perfect scheduler that starts the longest scripts first cannot beat, for every bucket B with n_B
PUTs and durations sorted longest first d_(1) >= d_(2) >= ...,

    LB_B = max over k of ( t_B(k) + d_(k) )

(pairing the k-th earliest admission with the k-th longest script is optimal by an exchange
argument), so ``LB = max_B LB_B``. It ignores reads (one GET per target to learn the outcome is
never binding on these profiles) and network latency. Deallocated targets need no PUT.
Targets whose agent is not ready cannot finish before the job timeout: d_i = timeout.

The action run command (``action=True``, the ``fleet-action`` contender) has its own bound: its
POST draws from the same buckets, but the emulator plans its runs apart from managed ones (other
durations of the same distributions) and its operation lasts at least ``action.min_duration``.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from fleet.sim.action import ACTION_SEQ_OFFSET
from fleet.sim.inventory import build_inventory
from fleet.sim.model import AgentState, PowerState, SimVm
from fleet.sim.outcomes import OutcomeModel
from fleet.sim.profile import Profile
from fleet.sim.throttle import ArmLimits, PolicyLimits

# The emulator's own mapping of a profile to limits: the bound uses exactly what it enforces.
from fleet.sim.world import arm_limits, compute_policies


@dataclass(frozen=True)
class Bucket:
    """A token bucket starting full at t=0: ``refill`` tokens per ``interval`` seconds."""

    name: str
    capacity: float
    refill: float
    interval: float = 1.0
    discrete: bool = False

    def admit_time(self, k: int) -> float:
        """The earliest time the ``k``-th request (1-based) through this bucket can be admitted."""
        excess = k - self.capacity
        if excess <= 0:
            return 0.0
        if self.discrete:
            return self.interval * math.ceil(excess / self.refill - 1e-9)
        return excess * self.interval / self.refill


def bucket_bound(bucket: Bucket, durations: Iterable[float]) -> float:
    """``max_k t(k) + d_(k)`` with durations sorted longest first (0 for no requests)."""
    ordered = sorted(durations, reverse=True)
    return max((bucket.admit_time(k) + d for k, d in enumerate(ordered, 1)), default=0.0)


@dataclass(frozen=True)
class LowerBound:
    lower_bound_s: float
    admit_s: float  # when the slowest bucket admits its last PUT
    binding_bucket: str
    puts: int  # PUTs needed (running targets)
    targets: int  # all targets, running or not
    max_duration_s: float  # longest planned pickup + run of any target
    duration_source: str = "planned"
    oblivious_s: float | None = None  # a reference, not a bound: see ``oblivious``

    def as_dict(self) -> dict[str, object]:
        return {
            "lower_bound_s": round(self.lower_bound_s, 3),
            "admit_s": round(self.admit_s, 3),
            "binding_bucket": self.binding_bucket,
            "puts": self.puts,
            "targets": self.targets,
            "max_duration_s": round(self.max_duration_s, 3),
            "duration_source": self.duration_source,
            "oblivious_s": None if self.oblivious_s is None else round(self.oblivious_s, 3),
        }


def oblivious(groups: Mapping[Bucket, Sequence[float]], rounds: int = 31) -> float:
    """A reference, not a bound: the median makespan of a launcher that uses 100% of every
    bucket but cannot know durations in advance (launch order random: ``rounds`` seeded
    shuffles). The gap between this and the bound is the price of not being clairvoyant."""
    spans = []
    for seed in range(rounds):
        rng = random.Random(seed)
        worst = 0.0
        for bucket, durations in groups.items():
            order = list(durations)
            rng.shuffle(order)
            worst = max(worst, *(bucket.admit_time(k) + d for k, d in enumerate(order, 1)))
        spans.append(worst)
    return statistics.median(spans) if spans else 0.0


def combine(groups: Mapping[Bucket, Sequence[float]], targets: int, puts: int) -> LowerBound:
    """The bound over buckets, each with the planned durations of the PUTs it must admit."""
    best, binding, admit = 0.0, "-", 0.0
    for bucket, durations in groups.items():
        bound = bucket_bound(bucket, durations)
        admit = max(admit, bucket.admit_time(len(durations)))
        if bound > best:
            best, binding = bound, bucket.name
    longest = max((max(d) for d in groups.values() if d), default=0.0)
    return LowerBound(best, admit, binding, puts, targets, longest, oblivious_s=oblivious(groups))


def _buckets_for(
    vm: SimVm, arm: ArmLimits, policies: dict[str, PolicyLimits], *, enabled: bool
) -> list[Bucket]:
    """The write buckets one run-command PUT on ``vm`` takes a token from."""
    sub, region = vm.subscription_id.lower(), vm.location.lower()
    if not enabled:  # no throttling: only the scripts themselves take time
        return [Bucket(f"arm:writes:{sub}", math.inf, 1.0)]
    policy = "UpdateVMSSVMs" if vm.is_uniform_instance else "UpdateVM"
    cap, rate = arm.writes
    limits = policies[policy]
    mult = arm.global_multiplier
    return [
        Bucket(f"arm:writes:{sub}", cap, rate),
        Bucket(f"arm:global-writes:{sub}", cap * mult, rate * mult),
        Bucket(
            f"compute:{policy}:{sub}:{region}",
            limits.sub_cap,
            limits.sub_refill_per_min,
            60.0,
            discrete=True,
        ),
    ]


def _planned_s(
    profile: Profile, outcomes: OutcomeModel, vm: SimVm, script: str, *, action: bool
) -> float:
    """Pickup plus run time of a fresh emulator's first execution on ``vm``. An action run
    command draws its own (``ACTION_SEQ_OFFSET``), and its operation never ends sooner than
    ``action.min_duration`` after the POST (``fleet.sim.action_state``)."""
    if not action:
        planned = outcomes.plan(vm, script, 1)
        return planned.pending_s + planned.duration_s
    command = "RunPowerShellScript" if vm.os == "windows" else "RunShellScript"
    planned = outcomes.plan(vm, script, ACTION_SEQ_OFFSET + 1, name=command)
    return max(planned.pending_s + planned.duration_s, profile.action.min_duration)


def bucket_groups(
    profile: Profile, seed: int, timeout_s: float, script: str = "", *, action: bool = False
) -> tuple[dict[Bucket, list[float]], int, int]:
    """(each write bucket with the planned durations of the writes it admits, targets, writes):
    run-command PUTs, or with ``action`` the action run command's POSTs, which draw from the
    same buckets (ARM writes; Compute's Update VM / Update VMSS VMs)."""
    inventory = build_inventory(profile, seed=seed)
    outcomes = OutcomeModel(profile, seed)
    arm = arm_limits(profile)
    policies = compute_policies(profile)
    groups: dict[Bucket, list[float]] = defaultdict(list)
    targets = puts = 0
    for vm in inventory.all_targets():
        targets += 1
        if vm.power_state is not PowerState.RUNNING:
            continue
        puts += 1
        if vm.agent is AgentState.NOT_READY:
            duration = float(timeout_s)
        else:
            duration = _planned_s(profile, outcomes, vm, script, action=action)
        buckets = _buckets_for(vm, arm, policies, enabled=profile.throttling.enabled)
        for bucket in buckets:
            groups[bucket].append(duration)
    return groups, targets, puts


def lower_bound(
    profile: Profile, seed: int, timeout_s: float, script: str = "", *, action: bool = False
) -> LowerBound:
    """The bound for running one script on every target of ``profile`` with ``seed`` (as
    managed run commands, or with ``action`` as action run commands)."""
    return combine(*bucket_groups(profile, seed, timeout_s, script, action=action))

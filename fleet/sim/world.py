"""Everything one emulator instance knows, built from a fleet profile: the clock, the inventory,
the run-command store (with its rules and the run commands already on the VMs), VM restarts and
the action run commands (which share the store's rules and outcome model), throttles (with their
header dialect and background load), principals, fault injection and ground-truth stats.

The HTTP layer reads and changes the world only through this object; tests may build one
directly (``World.from_profile``) to inspect state without HTTP.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.sim.action import ActionStore
from fleet.sim.auth import Authenticator, Permission, Principal
from fleet.sim.background import BackgroundLoad
from fleet.sim.blob_agent import BlobAccess, BlobAgent
from fleet.sim.clock import SimClock
from fleet.sim.faults import FaultConfig, FaultInjector
from fleet.sim.inventory import build_inventory, tenant_id_for
from fleet.sim.model import Inventory, SimVm
from fleet.sim.outcomes import OutcomeModel
from fleet.sim.power import PowerModel
from fleet.sim.profile import Profile
from fleet.sim.rc_exec import ExecRunner
from fleet.sim.rc_restart import interrupt_managed
from fleet.sim.rc_seed import seed_existing
from fleet.sim.runcommands import Planner, RunCommandStore
from fleet.sim.stats import Stats
from fleet.sim.throttle import (
    COMPUTE_POLICIES,
    ArmLimits,
    ArmThrottle,
    ComputeThrottle,
    GraphQuota,
    PolicyLimits,
)
from fleet.sim.throttle_headers import HeaderDialect, HeaderStyle


@dataclass
class World:
    profile: Profile
    clock: SimClock
    seed: int
    inventory: Inventory
    tenant_id: str
    runcommands: RunCommandStore
    arm_throttle: ArmThrottle
    compute_throttle: ComputeThrottle
    graph_quota: GraphQuota
    authenticator: Authenticator
    principals: list[Principal]
    faults: FaultInjector
    power: PowerModel
    actions: ActionStore
    page_size: int = 1000
    exec_runner: ExecRunner | None = None
    blob_agent: BlobAgent | None = None
    stats: Stats = field(default_factory=Stats)
    operations: dict[str, Any] = field(default_factory=dict)
    background: BackgroundLoad | None = None
    outcomes: OutcomeModel | None = None  # for PUT /_sim/outcomes

    @classmethod
    def from_profile(
        cls,
        profile: Profile,
        *,
        clock: SimClock,
        seed: int | None = None,
        page_size: int = 1000,
        exec_dir: Path | None = None,
        header_dialect: str | None = None,
        blob_access: BlobAccess | None = None,
    ) -> World:
        """``header_dialect`` overrides the profile's ``throttling.headers``; ``blob_access``
        says how the agents reach output blobs (the CA of a local Azurite and its key)."""
        seed = profile.seed if seed is None else seed
        inventory = build_inventory(profile, seed=seed)
        tenant_id = tenant_id_for(profile, seed)
        principals = _principals(profile, seed)
        exec_runner = None
        if profile.script.exec.enabled:
            exec_runner = ExecRunner(
                base_dir=exec_dir, max_processes=profile.script.exec.max_processes
            )
        outcomes = OutcomeModel(profile, seed)
        power = PowerModel(profile.restart, seed, clock)
        planner = power.gate(outcomes.plan)  # work sent to a restarting VM waits for its agent
        agent = BlobAgent(blob_access, clock)
        store = _run_commands(
            profile, clock, planner, seed, inventory, (exec_runner, agent), principals
        )
        actions = ActionStore(clock, planner, profile.action, store.rules, exec_runner=exec_runner)
        power.on_restart = _on_restart(store, actions, exec_runner)
        throttling = profile.throttling
        headers = HeaderStyle(
            HeaderDialect(header_dialect or throttling.headers), throttling.headers_missing, seed
        )
        world = cls(
            profile=profile,
            clock=clock,
            seed=seed,
            inventory=inventory,
            tenant_id=tenant_id,
            runcommands=store,
            arm_throttle=ArmThrottle(arm_limits(profile), enabled=throttling.enabled),
            compute_throttle=ComputeThrottle(
                compute_policies(profile),
                enabled=throttling.enabled,
                epoch=clock.utc(0.0),
                headers=headers,
            ),
            graph_quota=GraphQuota(
                throttling.resource_graph.queries,
                throttling.resource_graph.window,
                enabled=throttling.enabled,
            ),
            authenticator=Authenticator(principals, tenant_id),
            principals=principals,
            faults=FaultInjector(FaultConfig.from_dict(profile.faults.model_dump()), seed=seed),
            power=power,
            actions=actions,
            page_size=page_size,
            exec_runner=exec_runner,
            blob_agent=agent,
        )
        world.outcomes = outcomes
        world.background = BackgroundLoad(world.arm_throttle, world.compute_throttle)
        first_sub = profile.subscriptions[0].id
        for load in profile.background.build(first_sub, principals[0].name):
            world.background.add(load)
        return world


def _principals(profile: Profile, seed: int) -> list[Principal]:
    rng = random.Random(seed)
    return [
        Principal(
            name=p.name,
            token=p.token,
            object_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            roles=tuple((r.scope, r.role) for r in p.roles),
            denies=tuple((d.scope, frozenset(Permission(a) for a in d.actions)) for d in p.deny),
        )
        for p in profile.principals
    ]


def _run_commands(
    profile: Profile,
    clock: SimClock,
    planner: Planner,
    seed: int,
    inventory: Inventory,
    agents: tuple[ExecRunner | None, BlobAgent],
    principals: list[Principal],
) -> RunCommandStore:
    """The store with the profile's rules and the run commands already on the VMs."""
    rules = profile.run_commands.rules()
    exec_runner, blob_agent = agents
    store = RunCommandStore(
        clock, planner, exec_runner=exec_runner, rules=rules, blob_agent=blob_agent
    )
    existing = profile.run_commands.existing
    targets = inventory.all_targets()
    seed_existing(store, targets, existing, seed=seed, fleet_principal=principals[0].name)
    return store


def _on_restart(
    store: RunCommandStore, actions: ActionStore, runner: ExecRunner | None
) -> Callable[[SimVm, float, float | None], None]:
    """What a restart does to scripts in flight on the VM (managed and action)."""

    def restarted(vm: SimVm, now: float, resume_at: float | None) -> None:
        interrupt_managed(store, runner, vm, now, resume_at)
        actions.interrupt(vm, now, resume_at)

    return restarted


def arm_limits(profile: Profile) -> ArmLimits:
    """The ARM token buckets ``profile`` sets (also read by the benchmark's lower bound)."""
    arm = profile.throttling.arm
    return ArmLimits(
        reads=(arm.reads.capacity, arm.reads.refill_per_s),
        writes=(arm.writes.capacity, arm.writes.refill_per_s),
        deletes=(arm.deletes.capacity, arm.deletes.refill_per_s),
        global_multiplier=arm.global_multiplier,
    )


def compute_policies(profile: Profile) -> dict[str, PolicyLimits]:
    """Compute's throttling policies with ``profile``'s overrides."""
    policies = dict(COMPUTE_POLICIES)
    for name, override in profile.throttling.compute.items():
        base = policies[name]
        res, sub = override.resource, override.subscription
        policies[name] = PolicyLimits(
            resource_refill_per_min=res.refill_per_min if res else base.resource_refill_per_min,
            resource_cap=res.capacity if res else base.resource_cap,
            sub_refill_per_min=sub.refill_per_min if sub else base.sub_refill_per_min,
            sub_cap=sub.capacity if sub else base.sub_cap,
        )
    return policies

"""What one VM restart looks like over time: pure timelines drawn from a profile's ``restart``
section, deterministic per (seed, VM, restart number). No clock, no I/O; ``fleet.sim.power``
applies them to the inventory.

Timeline of a restart requested at ``t0`` (Azure-seconds):

* ``[t0, boot_end)``: ``PowerState/starting`` ("VM starting"), provisioning ``Updating``, no
  ``vmAgent`` in the instance view. Sources: docs "states-billing" (start and restart fall under
  the Updating provisioning state); microsoft/vscode-azurevirtualmachines#155 (a VM shows
  "starting" right after its restart operation returned). Azure documents no ``stopping`` phase
  for a restart, so none is modelled.
* ``[boot_end, agent_ready_at)``: ``PowerState/running``, ``vmAgent`` "Not Ready"; run commands
  sent now wait for the agent (docs "run-command": Run Command does not work while the agent is
  Not Ready).
* from ``agent_ready_at``: running, agent Ready again.
* The restart operation ends ``Succeeded`` at ``t0 + min(operation, boot)``: it may finish while
  the VM still boots (vscode-azurevirtualmachines#155, Azure/azure-sdk-for-net#19977).

Kinds (chosen once per VM: name globs first, then a seeded draw over the shares):
``normal``; ``slow`` (the agent takes ``slow.agent``); ``agent-never`` (running, but its agent
stays Not Ready: a dead agent from then on); ``stays-stopped`` (after the boot phase
``PowerState/stopped`` for good; the operation is abandoned after ``abandon_after`` with
``Canceled`` / ``InternalOperationError``, the wording captured in microsoft/lisa#236, and the
VM's provisioning state becomes ``Failed``). What Azure shows for a VM that fails to come back
is not documented: this is the documented part (a failed operation, a VM that is not running).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from fleet.sim.inventory import name_matches, seeded_rng
from fleet.sim.model import AgentState, PowerState, SimVm
from fleet.sim.outcomes import draw
from fleet.sim.profile_ops import RestartSettings

ABANDONED_MESSAGE = (
    "Operation restart was requested a long time ago and couldn't be executed successfully. "
    "Abandoning the operation in order not to cause unexpected results."
)
PREEMPTED_MESSAGE = "Operation execution has been preempted by a more recent operation."


class RestartKind(StrEnum):
    NORMAL = "normal"
    SLOW = "slow"
    AGENT_NEVER = "agent-never"
    STAYS_STOPPED = "stays-stopped"


def restart_kind(settings: RestartSettings, seed: int, vm: SimVm) -> RestartKind:
    """The VM's kind: a name glob decides (stays_stopped, then agent_never, then slow); else
    one seeded draw over the shares, so the same VMs misbehave on every restart."""
    groups = (
        (RestartKind.STAYS_STOPPED, settings.stays_stopped),
        (RestartKind.AGENT_NEVER, settings.agent_never),
        (RestartKind.SLOW, settings.slow),
    )
    for kind, group in groups:
        if group.names and name_matches(vm.name, group.names):
            return kind
    u = seeded_rng(seed, "restart-kind", vm.key).random()
    for kind, group in groups:
        if u < group.share:
            return kind
        u -= group.share
    return RestartKind.NORMAL


@dataclass(frozen=True)
class RestartPlan:
    """One restart's timeline; ``agent_ready_at`` None = the agent never reports Ready."""

    kind: RestartKind
    requested_at: float
    boot_end: float
    op_end: float
    agent_ready_at: float | None
    abandon_at: float

    @property
    def comes_back(self) -> bool:
        return self.kind is not RestartKind.STAYS_STOPPED

    def power(self, t: float) -> PowerState:
        if t < self.boot_end:
            return PowerState.STARTING
        return PowerState.RUNNING if self.comes_back else PowerState.STOPPED

    def agent(self, t: float) -> AgentState:
        if t < self.boot_end:
            return AgentState.STARTING
        if self.agent_ready_at is None:
            return AgentState.NOT_READY
        return AgentState.STARTING if t < self.agent_ready_at else AgentState.READY

    def operation_end(self) -> float:
        """When the operation reaches a terminal state (unless a newer restart preempts it)."""
        return self.op_end if self.comes_back else self.abandon_at

    def provisioning(self, t: float) -> str:
        if t < self.operation_end():
            return "Updating"
        return "Succeeded" if self.comes_back else "Failed"

    def transitions(self) -> list[float]:
        """Every instant at which something visible changes."""
        times = [self.boot_end, self.operation_end()]
        if self.agent_ready_at is not None:
            times.append(self.agent_ready_at)
        return times


def plan_restart(
    settings: RestartSettings,
    kind: RestartKind,
    rng: random.Random,
    t0: float,
    *,
    agent_dead: bool = False,
) -> RestartPlan:
    """Draw one restart's timeline. ``agent_dead``: the VM's agent was dead before the restart
    (a profile's ``agent: not_ready``); a restart does not revive it."""
    operation, boot = draw(rng, settings.operation), draw(rng, settings.boot)
    agent_dist = settings.slow.agent if kind is RestartKind.SLOW else settings.agent
    agent = draw(rng, agent_dist)
    never = agent_dead or kind in (RestartKind.AGENT_NEVER, RestartKind.STAYS_STOPPED)
    return RestartPlan(
        kind=kind,
        requested_at=t0,
        boot_end=t0 + boot,
        op_end=t0 + min(operation, boot),
        agent_ready_at=None if never else t0 + boot + agent,
        abandon_at=t0 + settings.abandon_after,
    )

"""VM restarts as state: the restarts the emulator accepted, their async operations, and the
power, agent and provisioning state they give the inventory's VMs over time (timelines:
``fleet.sim.restart_plan``).

Nothing runs in the background: the server calls :meth:`PowerModel.advance` at the start of
every request, which applies every transition that came due (a heap of instants: O(1) when
nothing changed). :meth:`PowerModel.gate` wraps a run-command planner so work sent while a
restarting VM's agent is not ready yet waits for it (Pending, then it runs), and ``on_restart``
lets the run-command stores cut off the scripts a restart kills.

Rules:
- Only a running VM, or one already restarting ("set to run"), can be restarted; otherwise 409
  ``OperationNotAllowed`` "The operation requires the VM to be running (or set to run)."
  (MicrosoftDocs/azure-docs#32404, PierreBeucher/cloudypad#69).
- The instance view's ProvisioningState status carries the ``time`` it last changed: the
  restart's request, then the end of its operation (``SimVm.provisioned_at``). A caller that
  lost a restart's answer compares it with a reading taken before the request.
- A restart whose operation is still in progress when another is requested ends ``Canceled`` /
  ``OperationPreempted`` (osbuild/osbuild-composer#1447); the newer timeline takes over. Both
  count as restarts in the ground truth (``/_sim/restarts``).
"""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fleet.sim.clock import SimClock
from fleet.sim.errors import ArmError
from fleet.sim.inventory import seeded_rng
from fleet.sim.model import AgentState, PowerState, SimVm
from fleet.sim.profile_ops import RestartSettings
from fleet.sim.restart_plan import (
    ABANDONED_MESSAGE,
    PREEMPTED_MESSAGE,
    RestartKind,
    RestartPlan,
    plan_restart,
    restart_kind,
)

NOT_RUNNING_MESSAGE = "The operation requires the VM to be running (or set to run)."
_RESTARTABLE = (PowerState.RUNNING, PowerState.STARTING)

#: Called for every restarted VM: (vm, now, when its agent is Ready again or None for never).
OnRestart = Callable[[SimVm, float, float | None], None]
Status = tuple[str, float | None, dict[str, str] | None]  # status, endTime, error


@dataclass(eq=False)
class Restart:
    """One VM's restart: its timeline and whether a newer restart preempted its operation."""

    vm: SimVm
    plan: RestartPlan
    seq: int  # 1, 2, ... per VM
    via: str  # "vm" | "vmss-vm" | "vmss"
    operation_id: str
    preempted_at: float | None = None

    def status(self, now: float) -> Status:
        if self.preempted_at is not None and now >= self.preempted_at:
            error = {"code": "OperationPreempted", "message": PREEMPTED_MESSAGE}
            return "Canceled", self.preempted_at, error
        end = self.plan.operation_end()
        if now < end:
            return "InProgress", None, None
        if self.plan.comes_back:
            return "Succeeded", end, None
        return "Canceled", end, {"code": "InternalOperationError", "message": ABANDONED_MESSAGE}

    def row(self, now: float) -> dict[str, Any]:
        plan = self.plan
        return {
            "target": self.vm.id,
            "seq": self.seq,
            "via": self.via,
            "operation": self.operation_id,
            "kind": str(plan.kind),
            "requested_at": plan.requested_at,
            "running_at": plan.boot_end if plan.comes_back else None,
            "agent_ready_at": plan.agent_ready_at,
            "operation_status": self.status(now)[0],
            "preempted": self.preempted_at is not None,
        }


@dataclass(eq=False)
class RestartOperation:
    """One restart request (a VM, an instance or a scale set's instances): an AsyncOperation."""

    operation_id: str
    subscription_id: str
    location: str
    resource_id: str
    started_at: float
    restarts: list[Restart]
    iso: Callable[[float], str]

    def document(self, now: float) -> dict[str, Any]:
        statuses = [r.status(now) for r in self.restarts]
        doc: dict[str, Any] = {"name": self.operation_id, "startTime": self.iso(self.started_at)}
        if any(s[0] == "InProgress" for s in statuses):
            doc["status"] = "InProgress"
            return doc
        failed = next((s for s in statuses if s[0] != "Succeeded"), None)
        doc["status"] = "Succeeded" if failed is None else failed[0]
        doc["endTime"] = self.iso(max((s[1] or 0.0 for s in statuses), default=self.started_at))
        if failed is not None and failed[2] is not None:
            doc["error"] = dict(failed[2])
        return doc

    def result(self, now: float) -> None:
        return None  # a restart has no result body


class PowerModel:
    """Every restart in the emulator and the VM state it implies; see the module docstring."""

    def __init__(
        self,
        settings: RestartSettings,
        seed: int,
        clock: SimClock,
        *,
        on_restart: OnRestart | None = None,
    ) -> None:
        self._settings = settings
        self._seed = seed
        self._clock = clock
        self.on_restart = on_restart
        self._active: dict[str, Restart] = {}  # VM key -> its latest restart
        self._history: list[Restart] = []
        self._kinds: dict[str, RestartKind] = {}
        self._dead_agent: dict[str, bool] = {}  # VM key -> agent dead before its first restart
        self._count: Counter[str] = Counter()
        self._due: list[tuple[float, int, str]] = []  # (instant, tiebreak, VM key)
        self._tiebreak = itertools.count()

    # -- requests -------------------------------------------------------------------------------

    def restart(self, vms: list[SimVm], now: float, *, via: str, scope: Any) -> RestartOperation:
        """Restart ``vms`` as one operation on ``scope`` (the VM or its scale set); 409 if any
        of them is not running. All-or-nothing: nothing restarts when one VM is refused."""
        for vm in vms:
            if vm.power_state not in _RESTARTABLE:
                details = [{"code": "OperationNotAllowed", "target": vm.name}]
                raise ArmError(409, "OperationNotAllowed", NOT_RUNNING_MESSAGE, details=details)
        op_id = str(uuid.uuid4())
        restarts = [self._restart_one(vm, now, via, op_id) for vm in vms]
        return RestartOperation(
            operation_id=op_id,
            subscription_id=scope.subscription_id,
            location=scope.location,
            resource_id=scope.id,
            started_at=now,
            restarts=restarts,
            iso=self._iso,
        )

    def _restart_one(self, vm: SimVm, now: float, via: str, op_id: str) -> Restart:
        key = vm.key
        previous = self._active.get(key)
        if previous is not None and previous.status(now)[0] == "InProgress":
            previous.preempted_at = now
        dead = self._dead_agent.setdefault(key, vm.agent is AgentState.NOT_READY)
        kind = self._kinds.setdefault(key, restart_kind(self._settings, self._seed, vm))
        self._count[key] += 1
        rng = seeded_rng(self._seed, "restart", key, self._count[key])
        plan = plan_restart(self._settings, kind, rng, now, agent_dead=dead)
        restart = Restart(vm, plan, self._count[key], via, op_id)
        self._active[key] = restart
        self._history.append(restart)
        for instant in plan.transitions():
            heapq.heappush(self._due, (instant, next(self._tiebreak), key))
        _apply(restart, now, self._iso)
        if self.on_restart is not None:
            self.on_restart(vm, now, plan.agent_ready_at)
        return restart

    # -- time -----------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Apply every transition due by ``now`` to the VMs concerned."""
        while self._due and self._due[0][0] <= now:
            _, _, key = heapq.heappop(self._due)
            restart = self._active.get(key)
            if restart is not None:
                _apply(restart, now, self._iso)

    def agent_wait(self, vm: SimVm, now: float) -> float:
        """Azure-seconds until a restarting VM's agent is Ready (0 if it is not restarting)."""
        restart = self._active.get(vm.key)
        if restart is None or vm.agent is not AgentState.STARTING:
            return 0.0
        ready = restart.plan.agent_ready_at
        return 0.0 if ready is None else max(0.0, ready - now)

    def gate(self, planner: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a run-command planner: an execution created while the VM's agent is coming back
        stays Pending until then, and only then waits its usual pickup delay."""

        def gated(vm: SimVm, *args: Any, **kwargs: Any) -> Any:
            planned = planner(vm, *args, **kwargs)
            wait = self.agent_wait(vm, self._clock.now())
            return replace(planned, pending_s=planned.pending_s + wait) if wait > 0 else planned

        return gated

    # -- ground truth ---------------------------------------------------------------------------

    def restarts(self, now: float) -> dict[str, Any]:
        """Every accepted restart (``/_sim/restarts``) and the count per target."""
        rows = [r.row(now) for r in self._history]
        per_target = Counter(r.vm.id for r in self._history)
        return {"restarts": rows, "restart_count": len(rows), "restarts_per_target": per_target}

    def _iso(self, t: float) -> str:
        return self._clock.utc(t).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _apply(restart: Restart, now: float, iso: Callable[[float], str]) -> None:
    vm, plan = restart.vm, restart.plan
    vm.power_state = plan.power(now)
    vm.agent = plan.agent(now)
    state = plan.provisioning(now)
    if state != vm.provisioning_state or now == plan.requested_at:
        # the instance view's ProvisioningState time: when the restart began, then when its
        # operation ended (a transition is applied late, at the next request: use its instant)
        changed = plan.requested_at if state == "Updating" else plan.operation_end()
        vm.provisioned_at = iso(changed)
    vm.provisioning_state = state

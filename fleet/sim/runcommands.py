"""Managed run commands (``{vm}/runCommands/{name}``): the emulator's state model, minus HTTP.

Owns run-command resources per VM / Uniform instance, their executions (kept forever as ground
truth), the async-operation documents their PUT/PATCH/DELETE return, and the ARM wire form.
Time is the store's clock (Azure-seconds); states are derived lazily from timestamps on read
(``rc_state.view``), so nothing runs in the background in model mode. Bodies are validated in
``rc_body``; exec mode (really running bash) is ``rc_exec``.

The service's rules (the 25-per-VM limit, what an identical PUT does, ``runAsUser`` accounts,
the output refresh, the dead-agent delay) live in ``rc_rules``; who created and deleted what, and
how many PUTs each run command received, in ``rc_ledger`` (ground truth).

Conventions where Azure's behaviour is not documented (see also ``rc_state``):
- A PUT whose normalised body (location, tags and all writable properties, secrets compared by
  value) equals the current one does not run the script again unless the rules say identical
  PUTs re-run; any change runs it again, and a previous execution still pending or running is
  canceled.
- Operation documents of a superseded execution report ``Canceled`` / ``OperationPreempted``.
- Canceling or deleting only cancels; nothing is ever retried.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, Protocol

from fleet.sim import rc_truth
from fleet.sim.blob_agent import BlobAgent
from fleet.sim.clock import SimClock
from fleet.sim.errors import ArmError, not_found
from fleet.sim.model import AgentState, PowerState, SimVm
from fleet.sim.rc_body import RunCommandSpec, parse_patch, parse_put, split_parameters
from fleet.sim.rc_ledger import RunCommandLedger
from fleet.sim.rc_provisioning import Provisioning, provisioning
from fleet.sim.rc_rules import RunCommandRules
from fleet.sim.rc_state import BlobOutput, Execution, LiveRun, view
from fleet.util import completion

RC_TYPE = "Microsoft.Compute/virtualMachines/runCommands"
VMSS_VM_RC_TYPE = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands"
NOT_RUNNING_MESSAGE = "Cannot modify extensions in the VM when the VM is not running."


class PlannedRunLike(Protocol):
    """What the outcome model decides for one execution (``outcomes.PlannedRun``)."""

    pending_s: float
    duration_s: float
    exit_code: int
    output: str
    error: str
    outcome: str


# planner(vm, script, execution seq, name=run-command name, parameters=public parameter names,
# protected=protected parameter names) -> what the script does this time
Planner = Callable[..., PlannedRunLike]
# Ground-truth rows (rc_truth); a module-level name because the store's own ``list`` method
# shadows the builtin inside its class body.
_Rows = list[dict[str, Any]]


class ExecRunner(Protocol):
    """Runs scripts for real (``rc_exec.ExecRunner``); see that module."""

    def bind_clock(self, clock: SimClock) -> None: ...

    def start(
        self,
        execution: Execution,
        script: str,
        env: dict[str, str],
        args: list[str],
        timeout_s: float | None,
        *,
        prepare: Callable[[], Awaitable[bool]] | None = None,
    ) -> None: ...

    def cancel(self, execution: Execution) -> None: ...


@dataclass(eq=False)
class RunCommand:
    """A run-command resource on one VM and its current execution (plus all earlier ones)."""

    vm: SimVm
    name: str
    spec: RunCommandSpec
    execution: Execution
    transitional: str  # provisioningState while the current execution is in flight
    history: list[Execution] = field(default_factory=list)
    deleting_since: float | None = None
    delete_result: DeleteResult | None = None

    @property
    def location(self) -> str:
        return self.spec.location

    @property
    def tags(self) -> dict[str, str]:
        return self.spec.tags

    @property
    def properties(self) -> dict[str, Any]:
        """Normalised writable properties, without secrets."""
        return self.spec.public_properties()


@dataclass(frozen=True)
class PutResult:
    run_command: RunCommand
    created: bool
    reexecuted: bool
    operation_id: str


@dataclass(frozen=True)
class DeleteResult:
    run_command: RunCommand
    operation_id: str


@dataclass(frozen=True)
class _Operation:
    kind: Literal["put", "delete"]
    run_command: RunCommand
    execution: Execution
    spec: RunCommandSpec  # the body the operation applied (the resource may change later)
    transitional: str
    started_at: float


class RunCommandStore:
    """All run commands in the emulator, keyed by VM ARM id and name (case-insensitive)."""

    def __init__(
        self,
        clock: SimClock,
        planner: Planner,
        *,
        exec_runner: ExecRunner | None = None,
        delete_s: float = 5.0,
        rules: RunCommandRules | None = None,
        blob_agent: BlobAgent | None = None,
    ) -> None:
        """``blob_agent`` None: output blobs are accepted and echoed, never written."""
        self._clock = clock
        self._planner = planner
        self._runner = exec_runner
        if exec_runner is not None:
            exec_runner.bind_clock(clock)  # live timestamps on the same clock as everything else
        self._blobs = blob_agent
        if blob_agent is not None:
            blob_agent.bind_clock(clock)
        self._delete_s = delete_s
        self.rules = rules or RunCommandRules()
        self.ledger = RunCommandLedger()
        self._by_vm: dict[str, dict[str, RunCommand]] = {}
        self._seq: Counter[tuple[str, str]] = Counter()
        self._executions: list[Execution] = []
        self._ops: dict[str, _Operation] = {}

    # -- resource verbs ---------------------------------------------------------------------

    def put(
        self, vm: SimVm, name: str, body: object, *, api_version: str, principal: str = "unknown"
    ) -> PutResult:
        rc = self._current(vm, name)
        spec = parse_put(body, vm.os, rc.spec if rc else None, api_version=api_version)
        return self._write(vm, name, rc, spec, principal)

    def patch(
        self, vm: SimVm, name: str, body: object, *, api_version: str, principal: str = "unknown"
    ) -> PutResult:
        rc = self._current(vm, name)
        if rc is None:
            raise not_found(_parent_type(vm), name, vm.resource_group)
        spec = parse_patch(body, vm.os, rc.spec, api_version=api_version)
        return self._write(vm, name, rc, spec, principal)

    def get(self, vm: SimVm, name: str) -> RunCommand | None:
        return self._current(vm, name)

    def all(self) -> list[RunCommand]:
        """Every run command on every VM (ground truth)."""
        found = (
            self._current(rc.vm, rc.name)
            for per in list(self._by_vm.values())
            for rc in list(per.values())
        )
        return [rc for rc in found if rc is not None]

    def list(self, vm: SimVm) -> list[RunCommand]:
        names = list(self._by_vm.get(vm.key, {}))
        found = (self._current(vm, n) for n in names)
        return [rc for rc in found if rc is not None]

    def delete(self, vm: SimVm, name: str, *, principal: str = "unknown") -> DeleteResult | None:
        rc = self._current(vm, name)
        if rc is None:
            return None
        if rc.delete_result is not None:
            return rc.delete_result
        now = self._clock.now()
        self._cancel(rc.execution, now)
        rc.deleting_since = now
        self.ledger.deleted(vm.id, rc.name, rc.spec.tags, principal, now)
        rc.delete_result = DeleteResult(rc, self._new_op("delete", rc, now))
        return rc.delete_result

    # -- internals of the verbs -------------------------------------------------------------

    def _current(self, vm: SimVm, name: str) -> RunCommand | None:
        """The run command if it exists; one whose deletion has finished is dropped here."""
        per_vm = self._by_vm.get(vm.key, {})
        rc = per_vm.get(name.lower())
        if rc is None or rc.deleting_since is None:
            return rc
        if self._clock.now() < rc.deleting_since + self._delete_s:
            return rc
        del per_vm[name.lower()]
        return None

    def _write(
        self, vm: SimVm, name: str, rc: RunCommand | None, spec: RunCommandSpec, principal: str
    ) -> PutResult:
        if rc is not None and rc.deleting_since is not None:
            message = (
                f"The run command '{rc.name}' is being deleted; retry after deletion completes."
            )
            raise ArmError(409, "Conflict", message)
        check_running(vm)
        if rc is None:
            self.rules.check_new(len(self.list(vm)))
        now = self._clock.now()
        self.ledger.put_applied(vm.id, name if rc is None else rc.name)
        if rc is not None and spec == rc.spec and not self.rules.identical_put_reruns:
            return PutResult(rc, False, False, self._new_op("put", rc, now))
        ex = self._start_execution(vm, name if rc is None else rc.name, spec, now)
        if rc is None:
            rc = RunCommand(vm, name, spec, ex, "Creating", [ex])
            self._by_vm.setdefault(vm.key, {})[name.lower()] = rc
            self.ledger.created(vm.id, name, principal, now)
            created = True
        else:
            self._cancel(rc.execution, now)
            rc.spec, rc.execution, rc.transitional = spec, ex, "Updating"
            rc.history.append(ex)
            created = False
        return PutResult(rc, created, True, self._new_op("put", rc, now))

    def _start_execution(self, vm: SimVm, name: str, spec: RunCommandSpec, now: float) -> Execution:
        key = (vm.key, name.lower())
        self._seq[key] += 1
        ex = self._new_execution(vm, name, self._seq[key], spec, now)
        self._executions.append(ex)
        script = spec.script_text(vm.os)
        blobs = self._blobs if self._blobs is not None and BlobAgent.wants(spec) else None
        if self._runner is not None and _exec_eligible(vm, spec, ex):
            ex.live = LiveRun(keep_full=blobs is not None)
            env, args = split_parameters(spec.parameters + spec.protected_parameters)
            prepare = None if blobs is None else partial(blobs.prepare, ex, spec)
            ex.blobs = None if blobs is None else BlobOutput()
            self._runner.start(ex, script, env, args, ex.timeout_s, prepare=prepare)
            return ex
        # fleet's completion wrapper: plan the script inside it; the trap prints the record
        unwrapped = completion.unwrap(script) if spec.source_kind == "script" else None
        planned = self._planner(
            vm,
            script if unwrapped is None else unwrapped[0],
            ex.seq,
            name=name,
            parameters=tuple(n for n, _ in spec.parameters),
            protected=tuple(n for n, _ in spec.protected_parameters),
        )
        ex.pending_s = max(0.0, float(planned.pending_s))
        ex.duration_s = max(0.0, float(planned.duration_s))
        ex.exit_code, ex.output, ex.error = planned.exit_code, planned.output, planned.error
        ex.outcome = planned.outcome
        if unwrapped is not None:
            ex.trailer = completion.record(unwrapped[1], planned.exit_code)
        if blobs is not None:
            blobs.follow(ex, spec)
        return ex

    def _new_execution(
        self, vm: SimVm, name: str, seq: int, spec: RunCommandSpec, now: float
    ) -> Execution:
        rules = self.rules
        return Execution(
            target=vm.id,
            run_command=name,
            seq=seq,
            created_at=now,
            timeout_s=float(spec.timeout_s) if spec.timeout_s else None,
            agent_ready=vm.agent != AgentState.NOT_READY,
            wedged=vm.script_fault == "wedged",
            os=vm.os,
            vm_name=vm.name,
            refresh_s=rules.output_refresh_s,
            agent_fail_after_s=rules.agent_fail_after_s,
            start_failure=rules.start_failure(vm, spec.run_as_user),
        )

    def adopt(self, vm: SimVm, name: str, spec: RunCommandSpec, ex: Execution, by: str) -> None:
        """Place a run command that existed before the emulator started (``rc_seed``): it is
        listed, counts toward the limit and can be deleted, but is no execution of this run."""
        rc = RunCommand(vm, name, spec, ex, "Creating", [ex])
        self._by_vm.setdefault(vm.key, {})[name.lower()] = rc
        self._seq[(vm.key, name.lower())] = max(self._seq[(vm.key, name.lower())], ex.seq)
        self.ledger.created(vm.id, name, by, ex.created_at, preexisting=True)

    def _cancel(self, ex: Execution, now: float) -> None:
        if ex.canceled_at is None and not view(ex, now).state.terminal:
            ex.canceled_at = now
            if ex.live is not None and self._runner is not None:
                self._runner.cancel(ex)

    def _new_op(self, kind: Literal["put", "delete"], rc: RunCommand, now: float) -> str:
        op_id = str(uuid.uuid4())
        self._ops[op_id] = _Operation(kind, rc, rc.execution, rc.spec, rc.transitional, now)
        return op_id

    # -- reads: provisioning, operations, wire ----------------------------------------------

    def provisioning_state(self, rc: RunCommand) -> str:
        if rc.deleting_since is not None:
            return "Deleting"
        return self._provisioning(rc.execution, rc.spec, rc.transitional).state

    def _provisioning(self, ex: Execution, spec: RunCommandSpec, transitional: str) -> Provisioning:
        return provisioning(
            ex,
            self._clock.now(),
            transitional=transitional,
            async_execution=spec.async_execution,
            treat_failure=spec.treat_failure,
        )

    def operation(self, operation_id: str) -> dict[str, Any] | None:
        """The ``Azure-AsyncOperation`` status document, or None for an unknown id."""
        op = self._ops.get(operation_id)
        if op is None:
            return None
        doc: dict[str, Any] = {"name": operation_id, "startTime": self._iso(op.started_at)}
        if op.kind == "delete":
            assert op.run_command.deleting_since is not None
            gone_at = op.run_command.deleting_since + self._delete_s
            done = self._clock.now() >= gone_at
            doc["status"] = "Succeeded" if done else "InProgress"
            if done:
                doc["endTime"] = self._iso(gone_at)
            return doc
        prov = self._provisioning(op.execution, op.spec, op.transitional)
        doc["status"] = prov.state if prov.terminal else "InProgress"
        if prov.terminal and prov.ended_at is not None:
            doc["endTime"] = self._iso(prov.ended_at)
        if prov.error is not None:
            doc["error"] = dict(prov.error)
        return doc

    def to_wire(self, rc: RunCommand, *, instance_view: bool) -> dict[str, Any]:
        """camelCase ARM JSON (``VirtualMachineRunCommand``); never contains secrets."""
        props = rc.spec.public_properties()
        props["provisioningState"] = self.provisioning_state(rc)
        if instance_view:
            props["instanceView"] = self._instance_view(rc.execution)
        wire: dict[str, Any] = {
            "id": f"{rc.vm.id}/runCommands/{rc.name}",
            "name": rc.name,
            "type": _rc_type(rc.vm),
            "location": rc.spec.location,
        }
        if rc.spec.tags:
            wire["tags"] = dict(rc.spec.tags)
        wire["properties"] = props
        return wire

    def _instance_view(self, ex: Execution) -> dict[str, Any]:
        v = view(ex, self._clock.now())
        iv: dict[str, Any] = {
            "executionState": str(v.state),
            "executionMessage": v.message,
            "output": v.output,
            "error": v.error,
        }
        if v.exit_code is not None:
            iv["exitCode"] = v.exit_code
        if v.started_at is not None:
            iv["startTime"] = self._iso(v.started_at)
        if v.ended_at is not None:
            iv["endTime"] = self._iso(v.ended_at)
        iv["statuses"] = []
        return iv

    def _iso(self, t: float) -> str:
        return self._clock.utc(t).isoformat(timespec="microseconds").replace("+00:00", "Z")

    # -- ground truth -------------------------------------------------------------------------

    def executions(self) -> _Rows:
        """Every execution ever started, with what really happened (for benchmarks/tests)."""
        return rc_truth.execution_rows(self._executions, self._clock.now())

    def stats(self) -> dict[str, Any]:
        """Totals by state, executions per target and name, PUTs per run command."""
        return {
            **rc_truth.totals(self.executions()),
            "run_commands": sum(len(per_vm) for per_vm in self._by_vm.values()),
            **self.ledger.put_counts(),
        }


def _rc_type(vm: SimVm) -> str:
    return VMSS_VM_RC_TYPE if vm.is_uniform_instance else RC_TYPE


def _parent_type(vm: SimVm) -> str:
    """``resource_type`` for ``errors.not_found``: the run-commands collection under the VM."""
    if vm.is_uniform_instance:
        assert vm.scale_set is not None
        return (
            f"Microsoft.Compute/virtualMachineScaleSets/{vm.scale_set.name}"
            f"/virtualMachines/{vm.instance_id}/runCommands"
        )
    return f"Microsoft.Compute/virtualMachines/{vm.name}/runCommands"


def check_running(vm: SimVm) -> None:
    """Extension operations need a running VM: 409 ``OperationNotAllowed`` otherwise (shared
    with the action run command)."""
    if vm.power_state != PowerState.RUNNING:
        details = [
            {"code": "CannotModifyExtensionsWhenVMNotRunning", "message": NOT_RUNNING_MESSAGE}
        ]
        raise ArmError(409, "OperationNotAllowed", NOT_RUNNING_MESSAGE, details=details)


def _exec_eligible(vm: SimVm, spec: RunCommandSpec, ex: Execution) -> bool:
    """Exec mode runs inline scripts on healthy Linux VMs; injected faults stay simulated, and
    so does work sent while a restarting VM's agent comes back (it must wait: ``power.gate``)."""
    inline = spec.source_kind == "script" or spec.source_kind == "commandId"
    ready = ex.agent_ready and vm.agent is AgentState.READY
    healthy = ready and not ex.wedged and ex.start_failure is None
    return vm.os == "linux" and inline and healthy

"""The action run command (``POST {vm}/runCommand`` and ``{vmss}/virtualmachines/{id}/runCommand``):
one script run per request, as a long-running operation whose result is a ``RunCommandResult``.
State minus HTTP; a run's course is ``fleet.sim.action_state``, its result shapes and the
exit-code marker convention ``fleet.sim.action_output``.

Rules (docs "run-command", Linux and Windows, "Restrictions", unless noted):
- One at a time per VM: a POST while the VM's previous one is in progress gets 409 ``Conflict``
  "Run command extension execution is in progress. Please wait for completion before invoking a
  run command." (MicrosoftDocs/azure-docs#110433, #43356). It runs beside managed run commands,
  which use another extension.
- The VM must be running: 409 ``OperationNotAllowed``, as for every extension operation.
- ``commandId`` must be a built-in of the catalog (404 ``NotFound`` "The entity was not found in
  this Azure location.", Azure/azure-powershell#7331) for the VM's OS (409 ``Conflict`` "Run
  command OS type 'Linux' does not match the target OS Windows.", Azure/repair-script-library#48).
  ``script`` replaces the built-in's default script (spec ``RunCommandInput``).
- The operation never ends sooner than ``action.min_duration`` after the POST ("about 20 s").
- A script still running after ``action.max_duration`` (90 minutes) "times out": the operation
  fails with ``VMExtensionProvisioningTimeout``, which also frees the VM. No cancel: no API.
- The agent must be ready: a restarting VM's run waits for the agent (Pending); on a dead agent
  the operation fails with ``VMAgentStatusCommunicationError`` after
  ``run_commands.agent_fail_after_s``, the same delay as a managed run command's (the rules are
  the run-command store's, shared, so ``/_sim/settings`` changes both).
- A restart kills a running script (``interrupt``); a pending one waits for the agent.
- What the script does and prints comes from the outcome model shared with managed run commands
  (called with the script minus its exit-code marker lines, the ``commandId`` as the name and
  the parameter names, so the same script behaviours apply); exec mode runs Linux scripts for
  real with the shared runner (named parameters as environment variables, unnamed ones as
  arguments, as ``rc_body.split_parameters``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleet.sim import command_catalog as catalog
from fleet.sim.action_output import (
    extension_view,
    interrupted_statuses,
    result_statuses,
    split_markers,
    with_markers,
)
from fleet.sim.action_state import ActionRun, ActionView, evaluate, ground_truth_row
from fleet.sim.clock import SimClock
from fleet.sim.errors import ArmError, bad_request
from fleet.sim.model import AgentState, SimVm
from fleet.sim.profile_ops import ActionSettings
from fleet.sim.rc_body import split_parameters
from fleet.sim.rc_rules import RunCommandRules
from fleet.sim.rc_state import Execution
from fleet.sim.runcommands import ExecRunner, check_running  # the extension rule, shared

CONFLICT_MESSAGE = (
    "Run command extension execution is in progress. Please wait for completion before "
    "invoking a run command."
)
#: Keeps the outcome model's per-execution draws of action runs apart from managed ones: the
#: n-th action run on a VM is execution ``ACTION_SEQ_OFFSET + n`` (``fleet.bench`` plans with it).
ACTION_SEQ_OFFSET = 1_000_000


@dataclass(frozen=True)
class ActionInput:
    """A validated ``RunCommandInput``."""

    command: catalog.Command
    script: str
    parameters: tuple[tuple[str, str], ...]


def parse_input(body: Any) -> ActionInput:
    """Validate a ``RunCommandInput`` body: 400 for a malformed one, 404 for an unknown id."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "BadRequest")
    command_id = body.get("commandId")
    if not isinstance(command_id, str) or not command_id:
        raise bad_request("The property 'commandId' is required.", target="commandId")
    command = catalog.find(command_id)
    if command is None:
        raise ArmError(404, "NotFound", catalog.NOT_FOUND_MESSAGE)
    lines = body.get("script")
    if lines is not None and not (
        isinstance(lines, list) and all(isinstance(x, str) for x in lines)
    ):
        raise bad_request("The property 'script' must be an array of strings.", target="script")
    params = body.get("parameters") or []
    if not isinstance(params, list) or not all(
        isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("value"), str)
        for p in params
    ):
        message = "The property 'parameters' must be an array of objects with string name, value."
        raise bad_request(message, target="parameters")
    script = "\n".join(lines) if lines else command.default_script()
    return ActionInput(command, script, tuple((p["name"], p["value"]) for p in params))


@dataclass(eq=False)
class ActionOperation:
    """The async operation of one run: ``lro.AsyncOperation``."""

    run: ActionRun
    store: ActionStore

    @property
    def operation_id(self) -> str:
        return self.run.operation_id

    @property
    def subscription_id(self) -> str:
        return self.run.vm.subscription_id

    @property
    def location(self) -> str:
        return self.run.vm.location

    @property
    def resource_id(self) -> str:
        return self.run.vm.id

    def document(self, now: float) -> dict[str, Any]:
        seen = self.store.view(self.run, now)
        doc: dict[str, Any] = {
            "name": self.operation_id,
            "startTime": self.store.iso(self.run.created_at),
            "status": seen.status,
        }
        if seen.ended_at is not None:
            doc["endTime"] = self.store.iso(seen.ended_at)
        if seen.status == "Succeeded":
            doc["properties"] = {"output": self.result(now)}
        if seen.error is not None:
            doc["error"] = dict(seen.error)
        return doc

    def result(self, now: float) -> dict[str, Any]:
        seen = self.store.view(self.run, now)
        if seen.interrupted:
            return {"value": interrupted_statuses(self.run.vm.os)}
        return {"value": result_statuses(self.run.vm.os, seen.stdout, seen.stderr)}


class ActionStore:
    """Every action run in the emulator, the one-at-a-time lock per VM, and ground truth."""

    def __init__(
        self,
        clock: SimClock,
        planner: Callable[..., Any],
        limits: ActionSettings,
        rules: RunCommandRules | None = None,
        *,
        exec_runner: ExecRunner | None = None,
    ) -> None:
        """``rules``: the run-command store's (``agent_fail_after_s`` is shared)."""
        self._clock = clock
        self._planner = planner
        self.limits = limits
        self.rules = rules or RunCommandRules()
        self._runner = exec_runner
        self._runs: list[ActionRun] = []
        self._latest: dict[str, ActionRun] = {}  # VM key -> its most recent run
        self._by_vm: dict[str, list[ActionRun]] = {}  # VM key -> its runs, oldest first
        self._seq: Counter[str] = Counter()
        self.conflicts = 0

    def invoke(self, vm: SimVm, request: ActionInput, now: float) -> ActionOperation:
        """Start a run on ``vm`` (409 if it is not running, busy, or of the other OS)."""
        check_running(vm)
        wanted = catalog.os_type(vm.os)
        if request.command.os_type != wanted:
            message = (
                f"Run command OS type '{request.command.os_type}' does not match the target "
                f"OS {wanted}."
            )
            raise ArmError(409, "Conflict", message)
        previous = self._latest.get(vm.key)
        if previous is not None and self.view(previous, now).status == "InProgress":
            self.conflicts += 1
            raise ArmError(409, "Conflict", CONFLICT_MESSAGE)
        self._seq[vm.key] += 1
        run = ActionRun(
            str(uuid.uuid4()),
            vm,
            request.command.id,
            self._seq[vm.key],
            now,
            None,
            None,
            agent_fail_after_s=self.rules.agent_fail_after_s,
        )
        if self._exec_eligible(vm):
            self._start_live(run, request)
        else:
            self._plan(run, request, now)
        self._runs.append(run)
        self._latest[vm.key] = run
        self._by_vm.setdefault(vm.key, []).append(run)
        return ActionOperation(run, self)

    def _exec_eligible(self, vm: SimVm) -> bool:
        healthy = vm.agent is AgentState.READY and vm.script_fault != "wedged"
        return self._runner is not None and vm.os == "linux" and healthy

    def _plan(self, run: ActionRun, request: ActionInput, now: float) -> None:
        vm = run.vm
        script, markers = split_markers(request.script)
        planned = self._planner(
            vm,
            script,
            ACTION_SEQ_OFFSET + run.seq,
            name=run.command_id,
            parameters=tuple(name for name, _ in request.parameters if name),  # unnamed: args
            protected=(),  # RunCommandInput has no protected parameters
        )
        run.outcome = planned.outcome
        if vm.agent is AgentState.NOT_READY:
            return  # never delivered (start_at None)
        run.start_at = now + max(0.0, float(planned.pending_s))
        if vm.script_fault != "wedged":
            run.end_at = run.start_at + max(0.0, float(planned.duration_s))
        run.exit_code = planned.exit_code
        run.stdout = with_markers(planned.output, markers, planned.exit_code)
        run.stderr = planned.error

    def _start_live(self, run: ActionRun, request: ActionInput) -> None:
        assert self._runner is not None
        timeout = self.limits.max_duration
        ex = Execution(run.vm.id, f"action-{run.command_id}", run.seq, run.created_at, timeout)
        run.execution = ex
        env, args = split_parameters(request.parameters)
        self._runner.start(ex, request.script, env, args, timeout)

    def view(self, run: ActionRun, now: float) -> ActionView:
        return evaluate(run, now, self.limits)

    def interrupt(self, vm: SimVm, now: float, resume_at: float | None) -> None:
        """``vm`` restarts at ``now``: kill its running script, hold back a pending one."""
        run = self._latest.get(vm.key)
        if run is None:
            return
        seen = self.view(run, now)
        if seen.status != "InProgress":
            return
        if seen.interrupted:  # restarted again before the agent was back: wait for this one
            run.resume_at = resume_at
            return
        if seen.script == "Running":
            run.interrupted_at, run.resume_at = now, resume_at
            if run.execution is not None and self._runner is not None:
                self._runner.cancel(run.execution)
        elif seen.script == "Pending" and run.start_at is not None and run.execution is None:
            if resume_at is None:
                run.start_at = run.end_at = None
                return
            shift = max(0.0, resume_at - run.start_at)
            run.start_at += shift
            run.end_at = None if run.end_at is None else run.end_at + shift

    def extension_views(self, vm: SimVm, now: float) -> list[dict[str, Any]]:
        """What the VM's instance view lists under ``extensions``: the agent's last report,
        i.e. the latest run the agent picked up. A run still waiting for the agent (Pending,
        or never delivered to a dead agent) has not been reported: the previous one shows."""
        for run in reversed(self._by_vm.get(vm.key, [])):
            seen = self.view(run, now)
            if not seen.started:
                continue
            done = seen.status == "Succeeded"
            view = extension_view(vm.os, done, seen.interrupted, seen.stdout, seen.stderr)
            return [view]
        return []

    # -- ground truth ---------------------------------------------------------------------------

    def rows(self, now: float) -> list[dict[str, Any]]:
        return [ground_truth_row(run, self.view(run, now)) for run in self._runs]

    def iso(self, t: float) -> str:
        return self._clock.utc(t).isoformat(timespec="microseconds").replace("+00:00", "Z")


def merge_ground_truth(body: dict[str, Any], rows: list[dict[str, Any]], conflicts: int) -> None:
    """Add action runs to a ``/_sim/executions`` body built from managed run commands: rows
    marked ``kind: action`` and counted in the same totals (``executed_per_target`` under
    ``action:<commandId>``), plus an ``actions`` summary."""
    body["executions"] = [{"kind": "managed", **row} for row in body["executions"]] + rows
    started = [r for r in rows if r["started"]]
    body["execution_count"] = body.get("execution_count", 0) + len(rows)
    body["started"] = body.get("started", 0) + len(started)
    body["never_started"] = body.get("never_started", 0) + len(rows) - len(started)
    by_state = Counter(body.get("by_state", {}))
    per_target = Counter(body.get("executions_per_target", {}))
    executed = body.setdefault("executed_per_target", {})
    for row in rows:
        by_state[row["state"]] += 1
        per_target[row["target"]] += 1
        if row["started"]:
            counts = executed.setdefault(row["target"], {})
            counts[row["run_command"]] = counts.get(row["run_command"], 0) + 1
    body["by_state"], body["executions_per_target"] = dict(by_state), dict(per_target)
    body["actions"] = {
        "executions": len(rows),
        "started": len(started),
        "conflicts": conflicts,
        "by_state": dict(Counter(r["state"] for r in rows)),
    }

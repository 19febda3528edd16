"""One action run command execution and what it looks like at a given instant. Pure: states are
derived from timestamps on read, like managed run commands (``fleet.sim.rc_state``).

Two clocks per run: the *script* (Pending, Running, then Succeeded / Failed by its exit code,
TimedOut, Interrupted by a restart, or NeverStarted on a dead agent) is ground truth; the
*operation* (InProgress, then Succeeded or Failed) is what ARM reports. They differ: a script
that exits non-zero still makes the operation succeed; the operation never ends sooner than
``min_duration`` after the request; an interrupted script's operation ends when the agent is
back. Limits and sources: ``fleet.sim.action``. How long Compute waits for an agent that never
answers is the run's ``agent_fail_after_s``, taken from the run-command rules when the run is
created (``run_commands.agent_fail_after_s``: one setting for managed and action run commands).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fleet.sim.model import SimVm
from fleet.sim.profile_ops import ActionSettings
from fleet.sim.rc_state import DEAD_AGENT_S, Execution, tail_utf8

AGENT_ERROR_CODE = "VMAgentStatusCommunicationError"
AGENT_MESSAGE = (
    "The VM has not reported status for the VM agent or extensions. Verify that the OS is up "
    "and healthy, the VM has a running VM agent, and outbound connectivity to Azure."
)


@dataclass(eq=False)
class ActionRun:
    """One POST: its script's planned (model) or real (exec, ``live``) course."""

    operation_id: str
    vm: SimVm
    command_id: str
    seq: int  # 1, 2, ... per VM
    created_at: float
    start_at: float | None  # model mode: script start; None = never (dead agent)
    end_at: float | None  # model mode: script end; None = never ends (a wedged VM)
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    execution: Execution | None = None  # exec mode: the runner's record (its ``live`` run)
    interrupted_at: float | None = None  # a restart killed the running script
    resume_at: float | None = None  # when that VM's agent was back (None = never)
    agent_fail_after_s: float = DEAD_AGENT_S  # a dead agent fails the operation this much later
    outcome: str = ""  # the outcome the model chose for the script (ground truth; model mode)


@dataclass(frozen=True)
class ActionView:
    status: str  # the operation: InProgress | Succeeded | Failed
    script: str  # ground truth: Pending | Running | Succeeded | Failed | TimedOut | ...
    started_at: float | None = None
    ended_at: float | None = None  # the operation's endTime once terminal
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    error: dict[str, str] | None = None

    @property
    def started(self) -> bool:
        return self.started_at is not None

    @property
    def interrupted(self) -> bool:
        return self.script == "Interrupted"


def _course(run: ActionRun) -> tuple[float | None, float | None, bool]:
    """(script start, script end, killed by the time limit) in Azure-seconds."""
    if run.execution is None or run.execution.live is None:
        return run.start_at, run.end_at, False
    live = run.execution.live
    return live.started_at, live.ended_at, live.timed_out


def _streams(run: ActionRun) -> tuple[int, str, str]:
    if run.execution is None or run.execution.live is None:
        return run.exit_code, run.stdout, run.stderr
    live = run.execution.live
    code = live.exit_code if live.exit_code is not None else -1
    return code, tail_utf8(live.stdout), tail_utf8(live.stderr)


def evaluate(run: ActionRun, t: float, limits: ActionSettings) -> ActionView:
    """The run at ``t``: see the module docstring."""
    start, end, killed = _course(run)
    if start is None and run.execution is None:  # never delivered: a dead agent
        deadline = run.created_at + run.agent_fail_after_s
        if t < deadline:
            return ActionView("InProgress", "Pending")
        return ActionView("Failed", "NeverStarted", ended_at=deadline, error=agent_error())
    if start is None or t < start:
        return ActionView("InProgress", "Pending")
    cut = run.interrupted_at
    if cut is not None and t >= cut and (end is None or cut < end):
        return _interrupted(run, t, limits, start, cut)
    cap = start + limits.max_duration
    if killed or end is None or end > cap:
        stop = min(cap, end if killed and end is not None else math.inf)
        if t < stop:
            return ActionView("InProgress", "Running", started_at=start)
        error = timeout_error(run.vm)
        return ActionView("Failed", "TimedOut", started_at=start, ended_at=stop, error=error)
    if t < end:
        return ActionView("InProgress", "Running", started_at=start)
    code, out, err = _streams(run)
    script = "Succeeded" if code == 0 else "Failed"
    done = max(end, run.created_at + limits.min_duration)
    if t < done:
        return ActionView("InProgress", script, started_at=start, exit_code=code)
    return ActionView("Succeeded", script, start, done, code, out, err)


def _interrupted(
    run: ActionRun, t: float, limits: ActionSettings, start: float, cut: float
) -> ActionView:
    if run.resume_at is None:  # the agent never comes back to report
        deadline = cut + run.agent_fail_after_s
        if t < deadline:
            return ActionView("InProgress", "Interrupted", started_at=start)
        return ActionView("Failed", "Interrupted", start, deadline, error=agent_error())
    done = max(run.resume_at, run.created_at + limits.min_duration)
    if t < done:
        return ActionView("InProgress", "Interrupted", started_at=start)
    return ActionView("Succeeded", "Interrupted", start, done)


def agent_error() -> dict[str, str]:
    return {"code": AGENT_ERROR_CODE, "message": AGENT_MESSAGE}


def timeout_error(vm: SimVm) -> dict[str, str]:
    """Azure/azure-sdk-for-python#4369, Azure/azure-cli#8967 (extension RunCommandLinux/Windows)."""
    extension = "RunCommandWindows" if vm.os == "windows" else "RunCommandLinux"
    message = (
        f"Provisioning of VM extension '{extension}' has timed out. Extension installation may "
        "be taking too long, or extension status could not be obtained."
    )
    return {"code": "VMExtensionProvisioningTimeout", "message": message}


def ground_truth_row(run: ActionRun, seen: ActionView) -> dict[str, Any]:
    """A ``/_sim/executions`` row, shaped like the managed ones plus ``kind: action``."""
    return {
        "kind": "action",
        "target": run.vm.id,
        "run_command": f"action:{run.command_id}",
        "operation": run.operation_id,
        "seq": run.seq,
        "created_at": run.created_at,
        "started": seen.started,
        "state": seen.script,
        "exit_code": seen.exit_code,
        "operation_status": seen.status,
        "canceled": False,
        "outcome": run.outcome,
        "agent_failed": seen.error is not None and seen.error["code"] == AGENT_ERROR_CODE,
    }

"""The ARM provisioning state a managed run command's execution implies (``asyncExecution``,
``treatFailureAsDeploymentFailure``, superseded operations) and the operation failure Compute
reports for a dead agent. Pure; the execution states themselves are ``rc_state``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet.sim import rc_handler
from fleet.sim.rc_state import ExecState, Execution, view


@dataclass(frozen=True)
class Provisioning:
    """The ARM provisioning state an execution implies, when it got there, and why it failed."""

    state: str  # Creating | Updating | Succeeded | Failed | Canceled
    ended_at: float | None = None
    error: dict[str, str] | None = None

    @property
    def terminal(self) -> bool:
        return self.state in ("Succeeded", "Failed", "Canceled")


def provisioning(
    ex: Execution, now: float, *, transitional: str, async_execution: bool, treat_failure: bool
) -> Provisioning:
    """asyncExecution: done once the script starts; otherwise done when the script ends."""
    v = view(ex, now)
    dead = _dead_agent(ex, now)
    if dead is not None:
        return dead
    if v.state is ExecState.CANCELED and not (async_execution and v.started):
        message = "The operation was preempted by a more recent operation on the run command."
        return Provisioning("Canceled", v.ended_at, _err("OperationPreempted", message))
    if async_execution:
        return Provisioning("Succeeded", v.started_at) if v.started else Provisioning(transitional)
    if not v.state.terminal:
        return Provisioning(transitional)
    if treat_failure and v.state in (ExecState.FAILED, ExecState.TIMED_OUT):
        message = (
            f"VM has reported a failure when processing extension '{ex.run_command}' "
            f"(executionState {v.state}, exitCode {v.exit_code}). {v.error}".rstrip()
        )
        return Provisioning("Failed", v.ended_at, _err("VMExtensionProvisioningError", message))
    return Provisioning("Succeeded", v.ended_at)


def _dead_agent(ex: Execution, now: float) -> Provisioning | None:
    """The operation's failure once Compute gives up on an agent that never answered."""
    if ex.agent_ready:
        return None
    fails_at = ex.created_at + ex.agent_fail_after_s
    if now < fails_at or (ex.canceled_at is not None and ex.canceled_at < fails_at):
        return None
    message = rc_handler.dead_agent_message(ex.vm_name)
    return Provisioning("Failed", fails_at, _err("VMAgentStatusCommunicationError", message))


def agent_failed(ex: Execution, now: float) -> bool:
    """Ground truth: Compute has failed this execution's operation for a dead agent."""
    return _dead_agent(ex, now) is not None


def _err(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}

"""Turning what Azure said into fleet's per-target outcome (pure): statuses, and the
``TargetResult`` of a final or overdue view.

A script that ran and failed is ``Failed`` (data, not an error). Delivery problems get fleet's
own statuses so operators can tell "the script is broken" from "the platform could not run it".
"""

from __future__ import annotations

from collections.abc import Callable

from fleet.model import CallError, RunView, Status, Target, TargetResult


def status_for_put_error(err: CallError) -> tuple[Status, str]:
    """Final status when Azure refused to create the run command."""
    code, message = err.code, err.message
    if err.status == 403:
        return Status.ACCESS_DENIED, f"{code}: {message}"
    if err.status == 404:
        return Status.NOT_FOUND, f"{code}: {message}"
    if err.status == 409:
        lowered = message.lower()
        if "not running" in lowered or "notrunning" in lowered or "deallocat" in lowered:
            return Status.SKIPPED, "not running"
        return Status.CONFLICT, f"{code}: {message}"
    if err.status == 429:
        return Status.THROTTLED_OUT, "still throttled when the run's deadline came"
    return Status.ERROR, f"{code or 'HTTP ' + str(err.status)}: {message}"


def status_for_view(view: RunView) -> tuple[Status, str | None]:
    """Final status for a terminal instance view."""
    state = view.execution_state
    if state == "Succeeded":
        if view.exit_code not in (None, 0):
            return Status.FAILED, f"exit code {view.exit_code}"
        return Status.SUCCEEDED, None
    if state == "Failed":
        if view.exit_code is not None:
            return Status.FAILED, f"exit code {view.exit_code}"
        return Status.FAILED, view.message or "the run command failed without an exit code"
    if state == "TimedOut":
        if view.start_time is None:
            return Status.TIMED_OUT, "the VM agent never started the script (agent not ready?)"
        return Status.TIMED_OUT, "the script ran past its timeout and was stopped by Azure"
    if state == "Canceled":
        return Status.CANCELED, view.message or "canceled"
    return Status.ERROR, f"unexpected execution state {state!r}"


def result_from_view(
    target: Target,
    view: RunView,
    polls: int,
    redact: Callable[[str], str],
    status: Status | None = None,
    reason: str | None = None,
) -> TargetResult:
    """The target's result from its last view (the status from it unless given); whatever
    Azure handed back passes through ``redact``."""
    if status is None:
        status, reason = status_for_view(view)
    return TargetResult(
        target,
        status,
        reason=reason and redact(reason),
        exit_code=view.exit_code,
        output=redact(view.output),
        error=redact(view.error),
        execution_state=view.execution_state,
        started_at=view.start_time,
        ended_at=view.end_time,
        polls=polls,
    )


def overdue_result(
    target: Target, view: RunView | None, polls: int, redact: Callable[[str], str]
) -> TargetResult:
    """A target still not final past its timeout plus grace: Wedged if it was running,
    TimedOut if it never left Pending (the agent did not pick it up)."""
    if view is not None and view.execution_state == "Running":
        reason = "still Running past its timeout plus grace: the command is wedged"
        return result_from_view(target, view, polls, redact, Status.WEDGED, reason)
    if view is not None:
        reason = f"still {view.execution_state} past its timeout (agent not picking it up?)"
        return result_from_view(target, view, polls, redact, Status.TIMED_OUT, reason)
    return TargetResult(
        target, Status.ERROR, reason="no readable result before the timeout", polls=polls
    )

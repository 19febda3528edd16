"""Turning what Azure said into fleet's per-target outcome (pure).

A script that ran and failed is ``Failed`` (data, not an error). Delivery problems get fleet's
own statuses so operators can tell "the script is broken" from "the platform could not run it".
"""

from __future__ import annotations

from fleet.model import CallError, RunView, Status

#: The Linux handler's own exit codes are -100 and below (internal/constants/exitcodes.go):
#: the script never ran, and the exit code alone does not say why.
HANDLER_CODES = -100


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
        if view.exit_code is not None and view.exit_code <= HANDLER_CODES and view.message:
            # the handler refused before the script ran: its message says why (an output blob
            # it could not create, -101; a runAsUser that does not exist, -102; ...)
            return Status.FAILED, f"exit code {view.exit_code}: {view.message}"
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

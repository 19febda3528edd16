"""Turning what Azure said into fleet's per-target outcome (pure).

A script that ran and failed is ``Failed`` (data, not an error). Delivery problems get fleet's
own statuses so operators can tell "the script is broken" from "the platform could not run it".
"""

from __future__ import annotations

from collections.abc import Collection

from fleet.model import CallError, RunView, Status


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


def status_for_view(
    view: RunView, success_exit_codes: Collection[int] = (0,)
) -> tuple[Status, str | None]:
    """Final status for a terminal instance view. A script that exits with one of the job's
    ``success_exit_codes`` succeeded (Linux reports such a run ``Failed`` with the exit code;
    the report keeps the code), e.g. 100 for a patch that says "reboot required"."""
    state, code = view.execution_state, view.exit_code
    if state in ("Succeeded", "Failed") and code is not None and code != 0:
        if code in success_exit_codes:
            return Status.SUCCEEDED, f"exit code {code} (a success exit code of this job)"
        return Status.FAILED, f"exit code {code}"
    if state == "Succeeded":
        if code is not None and 0 not in success_exit_codes:
            return Status.FAILED, "exit code 0 (not a success exit code of this job)"
        return Status.SUCCEEDED, None
    if state == "Failed":
        if code is not None:
            return Status.FAILED, f"exit code {code}"
        return Status.FAILED, view.message or "the run command failed without an exit code"
    if state == "TimedOut":
        if view.start_time is None:
            return Status.TIMED_OUT, "the VM agent never started the script (agent not ready?)"
        return Status.TIMED_OUT, "the script ran past its timeout and was stopped by Azure"
    if state == "Canceled":
        return Status.CANCELED, view.message or "canceled"
    return Status.ERROR, f"unexpected execution state {state!r}"

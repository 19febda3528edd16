"""Turning what Azure said into fleet's per-target outcome (pure).

A script that ran and failed is ``Failed`` (data, not an error). Delivery problems get fleet's
own statuses so operators can tell "the script is broken" from "the platform could not run it".

Completion is decided by ``executionState`` alone: an in-flight view carries ``exitCode: 0`` and
partial output on Linux (run-command-handler-linux, types/instanceview.go: ``ExitCode`` is a
plain ``int``), so neither says anything about being done.

Timeouts: the Linux handler kills the script at ``timeoutInSeconds`` and reports ``Failed`` with
exit code -1 (``exec.CommandContext``; Go's exit status of a signalled process; ``TimedOut`` is
declared in types/instanceview.go but never set); Windows reports ``TimedOut``. fleet reports
both ``TimedOut``. The rule for Linux: ``Failed``, exit code -1, and a run time
(``endTime - startTime``) of at least the timeout less ``TIMEOUT_TOLERANCE_S``. Its edge: -1
only ever means "killed by a signal" (``exit -1`` in a script is 255), so a script killed by
something else (the OOM killer, ``kill -9``) in the last second before its timeout is reported
``TimedOut``; one killed earlier is ``Failed`` with a reason that says so; without both times the
timeout cannot be told apart and the target is ``Failed`` (exit code -1).
"""

from __future__ import annotations

from collections.abc import Collection

from fleet.engine.hygiene import limit_of
from fleet.model import CallError, RunView, Status

KILLED_EXIT_CODE = -1  # what the Linux handler reports for a script killed by a signal
TIMEOUT_TOLERANCE_S = 1.0  # timestamps may be whole seconds; the kill comes at the timeout
#: The Linux handler's own exit codes are -100 and below (internal/constants/exitcodes.go):
#: the script never ran, and the exit code alone does not say why.
HANDLER_CODES = -100


def status_for_put_error(err: CallError) -> tuple[Status, str]:
    """Final status when Azure refused to create the run command."""
    code, message = err.code, err.message
    if limit_of(err) is not None:
        return Status.LIMIT_REACHED, f"{code}: {message}"
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


def run_time_s(view: RunView) -> float | None:
    """``endTime - startTime`` in seconds, when Azure reported both."""
    if view.start_time is None or view.end_time is None:
        return None
    return (view.end_time - view.start_time).total_seconds()


def _killed(view: RunView, timeout_s: int) -> tuple[Status, str]:
    """Linux's Failed / -1: a timeout when it ran for the timeout, else another signal."""
    ran = run_time_s(view)
    if ran is None:
        return Status.FAILED, (
            "exit code -1: killed by a signal (Azure gave no start and end time, so a "
            "timeout cannot be told apart)"
        )
    if timeout_s > 0 and ran >= timeout_s - TIMEOUT_TOLERANCE_S:
        return Status.TIMED_OUT, (
            f"killed at its timeout ({timeout_s} s) after running {ran:.0f} s "
            "(Linux reports Failed with exit code -1)"
        )
    limit = f"its {timeout_s} s timeout" if timeout_s > 0 else "the end (no timeout was set)"
    return Status.FAILED, f"exit code -1: killed by a signal after {ran:.0f} s, before {limit}"


def status_for_view(
    view: RunView, timeout_s: int = 0, success_exit_codes: Collection[int] = (0,)
) -> tuple[Status, str | None]:
    """Final status for a terminal instance view of a run command sent with ``timeout_s``
    (``timeoutInSeconds``; 0 = none, so Failed/-1 is never a timeout). A script that exits with
    one of the job's ``success_exit_codes`` succeeded (Linux reports such a run ``Failed`` with
    its exit code; the report keeps the code), e.g. 100 for a patch that says "reboot
    required"."""
    state, code = view.execution_state, view.exit_code
    if state == "Failed" and code == KILLED_EXIT_CODE:
        return _killed(view, timeout_s)
    if state == "Failed" and code is not None and code <= HANDLER_CODES and view.message:
        # the handler refused before the script ran: its message says why (an output blob it
        # could not create, -101; a runAsUser that does not exist, -102; ...)
        return Status.FAILED, f"exit code {code}: {view.message}"
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
            return Status.AGENT_NOT_READY, "TimedOut before the script started: agent not ready?"
        return Status.TIMED_OUT, "the script ran past its timeout and was stopped by Azure"
    if state == "Canceled":
        return Status.CANCELED, view.message or "canceled"
    return Status.ERROR, f"unexpected execution state {state!r}"

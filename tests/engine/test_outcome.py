"""What Azure said → fleet's per-target status and reason (a table)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleet.engine.outcome import status_for_put_error, status_for_view
from fleet.model import CallError, RunView, Status

T = datetime(2026, 1, 1, tzinfo=UTC)
NOT_RUNNING = "Cannot modify extensions in the VM when the VM is not running."


@pytest.mark.parametrize(
    ("view", "status", "reason"),
    [
        (
            RunView("Failed", exit_code=100, start_time=T),
            Status.SUCCEEDED,
            "exit code 100 (a success exit code of this job)",
        ),
        (
            RunView("Succeeded", exit_code=100, start_time=T),
            Status.SUCCEEDED,
            "exit code 100 (a success exit code of this job)",
        ),
        (RunView("Failed", exit_code=1, start_time=T), Status.FAILED, "exit code 1"),
        (RunView("Succeeded", exit_code=0, start_time=T), Status.SUCCEEDED, None),
        (RunView("TimedOut", exit_code=100, start_time=T), Status.TIMED_OUT, None),
    ],
)
def test_success_exit_codes_count_as_succeeded(
    view: RunView, status: Status, reason: str | None
) -> None:
    got_status, got_reason = status_for_view(view, 600, success_exit_codes=(0, 100))
    assert got_status is status
    assert reason is None or got_reason == reason


@pytest.mark.parametrize(
    ("view", "status", "reason"),
    [
        (RunView("Succeeded", exit_code=0, start_time=T), Status.SUCCEEDED, None),
        (RunView("Succeeded", start_time=T), Status.SUCCEEDED, None),
        (RunView("Succeeded", exit_code=2, start_time=T), Status.FAILED, "exit code 2"),
        (RunView("Failed", exit_code=1, start_time=T), Status.FAILED, "exit code 1"),
        (
            RunView("Failed", message="script download failed"),
            Status.FAILED,
            "script download failed",
        ),
        (RunView("Failed"), Status.FAILED, "the run command failed without an exit code"),
        (
            RunView("TimedOut", start_time=T),
            Status.TIMED_OUT,
            "the script ran past its timeout and was stopped by Azure",
        ),
        (
            RunView("TimedOut"),
            Status.AGENT_NOT_READY,
            "TimedOut before the script started: agent not ready?",
        ),
        (RunView("Canceled", message="deleted by user"), Status.CANCELED, "deleted by user"),
        (RunView("Canceled"), Status.CANCELED, "canceled"),
        (RunView("Bogus"), Status.ERROR, "unexpected execution state 'Bogus'"),
    ],
)
def test_terminal_views(view: RunView, status: Status, reason: str | None) -> None:
    assert status_for_view(view) == (status, reason)


@pytest.mark.parametrize(
    ("err", "status", "reason"),
    [
        (
            CallError(403, "AuthorizationFailed", "no access"),
            Status.ACCESS_DENIED,
            "AuthorizationFailed: no access",
        ),
        (CallError(404, "ResourceNotFound", "gone"), Status.NOT_FOUND, "ResourceNotFound: gone"),
        (CallError(409, "OperationNotAllowed", NOT_RUNNING), Status.SKIPPED, "not running"),
        (
            CallError(409, "OperationNotAllowed", "code CannotModifyExtensionsWhenVMNotRunning"),
            Status.SKIPPED,
            "not running",
        ),
        (
            CallError(409, "OperationNotAllowed", "The VM is being deallocated."),
            Status.SKIPPED,
            "not running",
        ),
        (
            CallError(409, "Conflict", "another operation is in progress"),
            Status.CONFLICT,
            "Conflict: another operation is in progress",
        ),
        (
            CallError(429, "SubscriptionRequestsThrottled", "slow down"),
            Status.THROTTLED_OUT,
            "still throttled when the run's deadline came",
        ),
        (
            CallError(400, "InvalidParameter", "bad timeout"),
            Status.ERROR,
            "InvalidParameter: bad timeout",
        ),
        (CallError(502, "", "bad gateway"), Status.ERROR, "HTTP 502: bad gateway"),
        (
            CallError(0, "ServiceRequestError", "connection reset"),
            Status.ERROR,
            "ServiceRequestError: connection reset",
        ),
    ],
)
def test_refusals(err: CallError, status: Status, reason: str) -> None:
    assert status_for_put_error(err) == (status, reason)


def killed(after_s: float, *, times: bool = True) -> RunView:
    """What the Linux handler reports for a script killed by a signal (exec.go: Failed, -1)."""
    end = T + timedelta(seconds=after_s)
    return RunView(
        "Failed",
        exit_code=-1,
        start_time=T if times else None,
        end_time=end if times else None,
        message="Execution failed: failed to execute command: command terminated with exit "
        "status=-1",
    )


@pytest.mark.parametrize(
    ("view", "timeout_s", "status", "reason"),
    [
        # Linux reports a timeout as Failed / -1: the run time says it was the timeout.
        (killed(60.0), 60, Status.TIMED_OUT, "killed at its timeout (60 s) after running 60 s"),
        (killed(59.2), 60, Status.TIMED_OUT, "killed at its timeout (60 s) after running 59 s"),
        (killed(61.5), 60, Status.TIMED_OUT, "killed at its timeout (60 s) after running 62 s"),
        # Killed by something else well before the timeout: a failure, and the reason says so.
        (killed(12.0), 60, Status.FAILED, "killed by a signal after 12 s, before its 60 s timeout"),
        (killed(58.9), 60, Status.FAILED, "killed by a signal after 59 s, before its 60 s"),
        # timeoutInSeconds 0: the handler set no timeout, so -1 is never one.
        (killed(5400.0), 0, Status.FAILED, "before the end (no timeout was set)"),
        # Without both times a timeout cannot be told apart: reported as the failure it says.
        (killed(60.0, times=False), 60, Status.FAILED, "cannot be told apart"),
        # Windows says TimedOut itself.
        (RunView("TimedOut", start_time=T), 60, Status.TIMED_OUT, "stopped by Azure"),
        # An ordinary failure keeps its exit code, whatever the run time.
        (RunView("Failed", exit_code=255, start_time=T, end_time=T + timedelta(seconds=60)),
         60, Status.FAILED, "exit code 255"),
    ],
)  # fmt: skip
def test_timeouts_on_both_oses(view: RunView, timeout_s: int, status: Status, reason: str) -> None:
    got_status, got_reason = status_for_view(view, timeout_s)
    assert got_status is status
    assert got_reason is not None and reason in got_reason


def test_the_limit_refusal_is_recognised_by_its_message_whatever_the_status() -> None:
    message = (
        "The maximum number of managed Run commands (max=25, current=25) has been exceeded. Use "
        "fewer Run commands and retry the request."
    )
    for status, code in ((409, "OperationNotAllowed"), (400, "BadRequest"), (409, "Conflict")):
        got, reason = status_for_put_error(CallError(status, code, message))
        assert got is Status.LIMIT_REACHED and "max=25, current=25" in reason


@pytest.mark.parametrize("state", ["Unknown", "Pending", "Running"])
def test_non_terminal_states_are_not_final(state: str) -> None:
    assert not RunView(state).terminal


@pytest.mark.parametrize("state", ["Succeeded", "Failed", "TimedOut", "Canceled"])
def test_terminal_states_are_final(state: str) -> None:
    assert RunView(state).terminal

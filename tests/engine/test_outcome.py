"""What Azure said → fleet's per-target status and reason (a table)."""

from __future__ import annotations

from datetime import UTC, datetime

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
    got_status, got_reason = status_for_view(view, (0, 100))
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
            Status.TIMED_OUT,
            "the VM agent never started the script (agent not ready?)",
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


@pytest.mark.parametrize("state", ["Unknown", "Pending", "Running"])
def test_non_terminal_states_are_not_final(state: str) -> None:
    assert not RunView(state).terminal


@pytest.mark.parametrize("state", ["Succeeded", "Failed", "TimedOut", "Canceled"])
def test_terminal_states_are_final(state: str) -> None:
    assert RunView(state).terminal

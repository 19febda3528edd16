"""What one read of a launched run command means for its target (pure): a final result, or
"still running" (the view), or "ask again" (None) — the same rules whether the read came from
budgeted ARM polling (``fleet.engine.execute``) or from the checks the storage watch makes
(``fleet.engine.storage_watch``), so both report the same. Also the result a completion record
in the output blob implies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleet.engine.outcome import status_for_put_error, status_for_view
from fleet.model import CallError, Invocation, RunView, Status, Target, TargetResult
from fleet.secrets import Secrets

if TYPE_CHECKING:
    from fleet.engine.storage_watch import Seen


def judge_read(
    target: Target, last: RunView | CallError, inv: Invocation, polls: int, secrets: Secrets
) -> TargetResult | RunView | None:
    """A final result, the view of a command still in flight, or None (read again)."""
    if isinstance(last, RunView) and last.run_id not in (None, inv.run_id):
        reason = (
            f"the run command was replaced by another run (FLEET_RUN_ID "
            f"{last.run_id}) while this one watched it; its result is not this run's"
        )
        return TargetResult(target, Status.ERROR, reason=reason, polls=polls)
    if isinstance(last, RunView):
        return result_from_view(target, last, polls, secrets) if last.terminal else last
    if last.transient or last.status == 429:
        return None
    status, reason = status_for_put_error(last)
    reason = f"reading the result: {reason}"
    return TargetResult(target, status, reason=secrets.redact(reason), polls=polls)


def result_from_view(
    target: Target,
    view: RunView,
    polls: int,
    secrets: Secrets,
    status: Status | None = None,
    reason: str | None = None,
) -> TargetResult:
    if status is None:
        status, reason = status_for_view(view)
    return TargetResult(
        target,
        status,
        reason=reason and secrets.redact(reason),
        exit_code=view.exit_code,
        output=secrets.redact(view.output),
        error=secrets.redact(view.error),
        execution_state=view.execution_state,
        started_at=view.start_time,
        ended_at=view.end_time,
        polls=polls,
    )


def overdue_result(
    target: Target, view: RunView | None, polls: int, secrets: Secrets
) -> TargetResult:
    """The command is past its timeout plus grace and still not final."""
    if view is not None and view.execution_state == "Running":
        reason = "still Running past its timeout plus grace: the command is wedged"
        return result_from_view(target, view, polls, secrets, Status.WEDGED, reason)
    if view is not None:
        reason = f"still {view.execution_state} past its timeout (agent not picking it up?)"
        return result_from_view(target, view, polls, secrets, Status.TIMED_OUT, reason)
    return TargetResult(
        target, Status.ERROR, reason="no readable result before the timeout", polls=polls
    )


def status_for_record(target: Target, seen: Seen, polls: int) -> TargetResult:
    """The result a completion record implies: what the instance view says once the script
    ended by itself with that exit code (Succeeded for 0, else Failed), the blob's creation
    and last write standing for its start and end. Its output comes from the blobs."""
    assert seen.exit_code is not None and seen.stdout is not None
    state = "Succeeded" if seen.exit_code == 0 else "Failed"
    view = RunView(
        state, exit_code=seen.exit_code, start_time=seen.stdout.created,
        end_time=seen.stdout.modified,
    )  # fmt: skip
    return result_from_view(target, view, polls, Secrets())

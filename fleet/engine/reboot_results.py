"""What a reboot makes of its target's result (pure; ``fleet.engine.reboot`` decides, this module
words it): the script's result kept — exit code, output, times — with a ``RebootRecord``, and the
status and reason the reboot's outcome means: back (the script's status), not back in time
(``RebootTimedOut``), refused (``AccessDenied``, ``NotFound``, ``Conflict``, ``ThrottledOut`` or
``Error``), of unknown fate or abandoned at a stop (``Error``), not requested after a stop (the
script's status; the record says the VM still needs its reboot).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import structlog

from fleet.model import (
    CallError,
    MachineView,
    RebootOutcome,
    RebootRecord,
    Status,
    TargetResult,
)
from fleet.secrets import Secrets

log = structlog.get_logger("fleet.engine")

_REFUSALS = {403: Status.ACCESS_DENIED, 404: Status.NOT_FOUND, 409: Status.CONFLICT}
_REFUSALS[429] = Status.THROTTLED_OUT


@dataclass(frozen=True)
class Sent:
    """How requesting a restart went."""

    attempts: int  # requests journaled (and sent, unless a crash came first)
    at: float = 0.0  # engine clock when the accepted request was sent
    at_utc: datetime | None = None
    error: CallError | None = None  # not accepted: refused, or lost every time
    unknown: bool = False  # the answer was lost and no read could tell whether it arrived


@dataclass
class Waited:
    """What the reads of one wait have seen (engine seconds after the restart was sent)."""

    reads: int = 0
    seen_away: bool = False
    away_read: float = 0.0  # the last read that saw it not back yet (0 = the request)
    last_read: float = 0.0
    view: MachineView | None = None
    error: CallError | None = None

    def last_seen(self, secrets: Secrets) -> str:
        if self.view is not None:
            return self.view.describe()
        return "nothing readable" if self.error is None else error_text(self.error, secrets)


def error_text(err: CallError, secrets: Secrets) -> str:
    return secrets.redact(f"{err.code}: {err.message}")


def waited(
    script: TargetResult,
    required: str,
    sent: Sent,
    st: Waited,
    *,
    back: bool,
    timeout_s: int,
    azure_seconds: float,
    secrets: Secrets,
) -> TargetResult:
    """Back (done), or not back within ``timeout_s`` (RebootTimedOut)."""
    seconds = round(azure_seconds, 1)
    record = RebootRecord(
        required, RebootOutcome.DONE if back else RebootOutcome.TIMED_OUT, requested=True,
        requested_at=sent.at_utc, ready_at=datetime.now(UTC) if back else None,
        seconds_to_ready=seconds if back else None, detail=st.last_seen(secrets),
        restarts=sent.attempts, reads=st.reads,
    )  # fmt: skip
    if back:
        log.info("target.rebooted", target=script.target.id, seconds=seconds)
        return replace(script, reboot=record)
    reason = (
        f"restarted ({required}) and not back (running, agent Ready) within {timeout_s} s "
        f"(reboot_timeout): last seen {record.detail}"
    )
    log.warning("target.reboot_timed_out", target=script.target.id, reason=reason)
    return replace(script, status=Status.REBOOT_TIMED_OUT, reason=reason, reboot=record)


def abandoned(
    script: TargetResult, required: str, sent: Sent, st: Waited, secrets: Secrets
) -> TargetResult:
    """The run stopped waiting while the VM was restarting: say so."""
    seen = st.last_seen(secrets)
    why = (
        f"the VM was restarting ({required}) when the run stopped; fleet did not wait for it "
        f"to come back (last seen {seen})"
    )
    record = RebootRecord(
        required, RebootOutcome.ABANDONED, requested=True, requested_at=sent.at_utc,
        detail=seen, restarts=sent.attempts, reads=st.reads,
    )  # fmt: skip
    log.warning("target.reboot_abandoned", target=script.target.id, reason=why)
    return replace(script, status=Status.ERROR, reason=why, reboot=record)


def refused(script: TargetResult, required: str, sent: Sent, secrets: Secrets) -> TargetResult:
    """Azure refused the restart (or every attempt was proven lost): it never happened."""
    assert sent.error is not None
    err = sent.error
    why = f"the script succeeded ({required}) but the restart failed: {error_text(err, secrets)}"
    if err.transient:
        why += " (Azure proved each attempt never arrived)"
    status = _REFUSALS.get(err.status, Status.ERROR)
    return failed(script, required, RebootOutcome.REFUSED, why, False, secrets, sent, status)


def unknown(script: TargetResult, required: str, sent: Sent, secrets: Secrets) -> TargetResult:
    why = "the restart's fate is unknown (it may have happened); it was not sent again"
    if sent.error is not None:
        why += f" ({error_text(sent.error, secrets)})"
    return failed(script, required, RebootOutcome.UNKNOWN, why, None, secrets, sent)


def failed(
    script: TargetResult,
    required: str,
    outcome: RebootOutcome,
    why: str,
    requested: bool | None,
    secrets: Secrets,
    sent: Sent | None = None,
    status: Status = Status.ERROR,
) -> TargetResult:
    why = secrets.redact(why)
    log.warning("target.reboot_failed", target=script.target.id, reason=why)
    record = RebootRecord(
        required, outcome, requested=requested, detail=why,
        restarts=0 if sent is None else sent.attempts,
    )  # fmt: skip
    return replace(script, status=status, reason=why, reboot=record)


def not_requested(script: TargetResult, required: str, stopped: str) -> TargetResult:
    """Required, and not requested: the run had stopped. The script's status stands."""
    log.info("target.reboot_not_requested", target=script.target.id, reason=stopped)
    record = RebootRecord(
        required, RebootOutcome.NOT_REQUESTED, requested=False, detail=f"not requested: {stopped}"
    )
    return replace(script, reboot=record)


def with_restarts(result: TargetResult, earlier: int) -> TargetResult:
    """Count the restart requests a crashed run had journaled too."""
    if result.reboot is None:
        return result
    return replace(result, reboot=replace(result.reboot, restarts=result.reboot.restarts + earlier))

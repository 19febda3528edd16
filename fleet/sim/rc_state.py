"""One execution of a managed run command and the states derived from it at a given time.

Owns the lifecycle Pending -> Running -> Succeeded | Failed | TimedOut | Canceled and the
provisioning state it implies. In model mode nothing ticks: an :class:`Execution` stores its
creation time and planned timings, and :func:`view` derives the state for any ``now`` (so idle
run commands cost nothing). In exec mode a :class:`LiveRun` filled by ``rc_exec.ExecRunner``
replaces the plan. Pure: no clock, no I/O.

Choices where the docs are silent (emulator conventions, mirroring the Linux handler, which
kills a timed-out script and reports the signalled process's exit status, -1):
- TimedOut and Canceled-after-start report ``exitCode`` -1; a script that never started
  (agent not ready, canceled while pending) reports no ``exitCode``.
- While Running, ``output``/``error`` show the part of the planned streams produced so far
  (proportional to elapsed time), as the handler reports partial output periodically.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

OUTPUT_LIMIT = 4096  # instanceView.output/error keep only the last 4 KB (D-RCL, D-RCW)
KILLED_EXIT_CODE = -1


class ExecState(StrEnum):
    UNKNOWN = "Unknown"
    PENDING = "Pending"
    RUNNING = "Running"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"
    TIMED_OUT = "TimedOut"
    CANCELED = "Canceled"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = {ExecState.FAILED, ExecState.SUCCEEDED, ExecState.TIMED_OUT, ExecState.CANCELED}


def tail_utf8(data: str | bytes, limit: int = OUTPUT_LIMIT) -> str:
    """The last ``limit`` UTF-8 bytes of ``data`` as text, never starting mid-character."""
    raw = data.encode("utf-8", errors="replace") if isinstance(data, str) else bytes(data)
    if len(raw) > limit:
        raw = raw[-limit:]
        skip = 0
        # A cut inside a multi-byte character leaves up to 3 continuation bytes (10xxxxxx).
        while skip < min(3, len(raw)) and raw[skip] & 0xC0 == 0x80:
            skip += 1
        raw = raw[skip:]
    return raw.decode("utf-8", errors="replace")


@dataclass(eq=False)
class LiveRun:
    """A real process (exec mode), written by the runner and read by :func:`view`."""

    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    timed_out: bool = False
    stdout: bytearray = field(default_factory=bytearray)  # rolling tail, <= OUTPUT_LIMIT
    stderr: bytearray = field(default_factory=bytearray)


@dataclass(eq=False)
class Execution:
    """One run of a run command's script (a PUT that changed the body starts a new one)."""

    target: str  # the VM's ARM id
    run_command: str
    seq: int  # 1, 2, ... per run-command name on this VM
    created_at: float
    timeout_s: float
    pending_s: float = 0.0
    duration_s: float = 0.0
    exit_code: int = 0
    output: str = field(default="", repr=False)
    error: str = field(default="", repr=False)
    agent_ready: bool = True
    wedged: bool = False
    canceled_at: float | None = None
    live: LiveRun | None = None


@dataclass(frozen=True)
class ExecView:
    """What the instance view shows at one instant."""

    state: ExecState
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    output: str = ""
    error: str = ""
    message: str = ""

    @property
    def started(self) -> bool:
        """Whether the script actually began running on the VM."""
        return self.started_at is not None


def view(ex: Execution, now: float) -> ExecView:
    """The execution's state at ``now``.

    ``canceled_at`` is only ever set on an execution that was not terminal at that moment, so
    from then on it is Canceled, whatever the (possibly identical) timestamps of its end say.
    """
    at = now if ex.canceled_at is None else min(now, ex.canceled_at)
    seen = _live_view(ex, at) if ex.live is not None else _model_view(ex, at)
    if ex.canceled_at is None or now < ex.canceled_at:
        return seen
    return ExecView(
        ExecState.CANCELED,
        started_at=seen.started_at,
        ended_at=ex.canceled_at,
        exit_code=KILLED_EXIT_CODE if seen.started else None,
        output=seen.output,
        error=seen.error,
        message="The run command was canceled.",
    )


def _model_view(ex: Execution, t: float) -> ExecView:
    if not ex.agent_ready:
        deadline = ex.created_at + ex.timeout_s
        if t < deadline:
            return ExecView(ExecState.PENDING)
        message = (
            "The VM agent did not respond: the run command was not delivered to the VM "
            f"within {ex.timeout_s:g} seconds and never ran."
        )
        return ExecView(ExecState.TIMED_OUT, ended_at=deadline, message=message)
    start = ex.created_at + ex.pending_s
    if t < start:
        return ExecView(ExecState.PENDING)
    if ex.wedged:
        return ExecView(ExecState.RUNNING, started_at=start)
    end = start + min(ex.duration_s, ex.timeout_s)
    if t < end:
        return _partial(ex, ExecState.RUNNING, start, None, t - start)
    if ex.duration_s > ex.timeout_s:
        timed_out = _partial(ex, ExecState.TIMED_OUT, start, end, ex.timeout_s)
        message = f"The script did not finish within {ex.timeout_s:g} seconds and was stopped."
        return replace(timed_out, exit_code=KILLED_EXIT_CODE, message=message)
    state = ExecState.SUCCEEDED if ex.exit_code == 0 else ExecState.FAILED
    return ExecView(
        state,
        started_at=start,
        ended_at=end,
        exit_code=ex.exit_code,
        output=tail_utf8(ex.output),
        error=tail_utf8(ex.error),
    )


def _partial(
    ex: Execution, state: ExecState, start: float, end: float | None, elapsed: float
) -> ExecView:
    """The streams produced after ``elapsed`` seconds of a ``duration_s``-long run."""
    frac = 1.0 if ex.duration_s <= 0 else min(1.0, elapsed / ex.duration_s)
    out = ex.output[: int(len(ex.output) * frac)]
    err = ex.error[: int(len(ex.error) * frac)]
    return ExecView(
        state, started_at=start, ended_at=end, output=tail_utf8(out), error=tail_utf8(err)
    )


def _live_view(ex: Execution, t: float) -> ExecView:
    live = ex.live
    assert live is not None
    if live.started_at is None or live.started_at > t:
        return ExecView(ExecState.PENDING)
    out, err = tail_utf8(live.stdout), tail_utf8(live.stderr)
    if live.ended_at is None or live.ended_at > t:
        return ExecView(ExecState.RUNNING, started_at=live.started_at, output=out, error=err)
    if live.timed_out:
        message = f"The script did not finish within {ex.timeout_s:g} seconds and was stopped."
        state, code = ExecState.TIMED_OUT, KILLED_EXIT_CODE
    else:
        code = live.exit_code if live.exit_code is not None else KILLED_EXIT_CODE
        state, message = (ExecState.SUCCEEDED if code == 0 else ExecState.FAILED), ""
    return ExecView(state, live.started_at, live.ended_at, code, out, err, message)


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
    if not ex.agent_ready and v.state is ExecState.TIMED_OUT:
        message = (
            "The VM has not reported status for the VM agent or extensions. Verify that the OS "
            "is up and healthy, the VM has a running VM agent, and outbound connectivity to Azure."
        )
        return Provisioning("Failed", v.ended_at, _err("VMAgentStatusCommunicationError", message))
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


def _err(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}

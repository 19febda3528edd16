"""One execution of a managed run command and the states derived from it at a given time.

Owns the lifecycle Pending -> Running -> Succeeded | Failed | TimedOut | Canceled (the
provisioning state it implies is ``rc_provisioning``'s) and the bytes the script has written by
a given time (:func:`streams_at`, what the agent appends to output blobs). In model mode nothing
ticks: an :class:`Execution` stores its creation time and planned timings, and :func:`view`
derives the state for any ``now`` (so idle run commands cost nothing). In exec mode a
:class:`LiveRun` filled by ``rc_exec.ExecRunner`` replaces the plan. What the guest handler
writes (messages, exit codes, the Linux/Windows differences, the 15-second output refresh) is in
``rc_handler``. Pure: no clock, no I/O (a live run's output snapshot is the one piece of state
:func:`view` updates).

Conventions where Azure is silent:
- A script that never started (agent not ready, canceled while pending, deleted) has no
  ``exitCode``; Canceled after the start reports -1, like a killed process.
- Agent not ready: the instance view stays ``Pending`` for good (the handler never reports);
  the *operation* fails with ``VMAgentStatusCommunicationError`` ``agent_fail_after_s`` after the
  request, whatever the script timeout (see :func:`provisioning`). No capture shows a run
  command's instance view after that failure; nothing newer than Pending ever reached Azure.
  Only a dead agent (``AgentState.NOT_READY``: the profile's, or one a restart never brought
  back) counts: an agent still coming back after a restart is ready-to-be, and its work waits
  for it (``power.gate`` adds the wait to ``pending_s``), however long that takes.
- ``timeout_s`` None: no handler timeout (``timeoutInSeconds: 0``): a script that never ends
  runs forever.
- ``wedged``: the handler itself hung and never reports again, so the view stays Running whatever
  the timeout (azure-sdk-for-net#13879: a run command stuck in progress for good after the agent
  restarted mid-run, the 90-minute limit never kicking in). A VM restart does that to a running
  script (``rc_restart``): the timeout died with the handler's process, and the output stays the
  tail of the handler's last report before the restart.
- Output blobs (``outputBlobUri`` / ``errorBlobUri``, written by ``blob_agent``): the handler
  creates them after reporting Running and before the script starts; if that fails the run is
  ``Failed`` with exit code -101 from then on (the script never ran), and a script's end is
  reported only after the last append (``cmds.go`` appends, then returns its status), so until
  :class:`BlobOutput` says ``flushed`` a finished script still shows ``Running``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from fleet.sim import rc_handler
from fleet.sim.rc_handler import SIGNALLED_EXIT_CODE, StartFailure

OUTPUT_LIMIT = 4096  # instanceView.output/error keep only the last 4 KB (D-RCL, D-RCW)
KILLED_EXIT_CODE = SIGNALLED_EXIT_CODE
DEAD_AGENT_S = 1522.0  # 25m22s: operation start to end in azure-powershell#5741 and #5838


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


def tail_utf8(data: str | bytes | bytearray, limit: int = OUTPUT_LIMIT) -> str:
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
class BlobOutput:
    """Where the agent stands with an execution's output blobs (``blob_agent`` writes it)."""

    failure: StartFailure | None = None  # creating or replacing a blob failed (-101)
    failed_at: float | None = None
    flushed: bool = False  # the last append after the script ended is done
    halted: bool = False  # the handler died with its VM (restart): nothing more is written


@dataclass(eq=False)
class LiveRun:
    """A real process (exec mode), written by the runner and read by :func:`view`."""

    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    timed_out: bool = False
    stdout: bytearray = field(default_factory=bytearray)  # rolling tail, <= OUTPUT_LIMIT
    stderr: bytearray = field(default_factory=bytearray)
    # Whole streams, kept only for an execution with output blobs (the handler's stdout file)
    keep_full: bool = False
    full_stdout: bytearray = field(default_factory=bytearray)
    full_stderr: bytearray = field(default_factory=bytearray)
    # The tail as of the handler's last status tick (index ``tick``); see ``_live_view``.
    tick: int = 0
    shown: tuple[str, str] = ("", "")


@dataclass(eq=False)
class Execution:
    """One run of a run command's script (a PUT that changed the body starts a new one)."""

    target: str  # the VM's ARM id
    run_command: str
    seq: int  # 1, 2, ... per run-command name on this VM
    created_at: float
    timeout_s: float | None  # None: no handler timeout (timeoutInSeconds 0)
    pending_s: float = 0.0
    duration_s: float = 0.0
    exit_code: int = 0
    output: str = field(default="", repr=False)
    error: str = field(default="", repr=False)
    agent_ready: bool = True
    wedged: bool = False
    canceled_at: float | None = None
    live: LiveRun | None = None
    os: str = "linux"
    vm_name: str = ""
    refresh_s: float = rc_handler.REFRESH_S
    agent_fail_after_s: float = DEAD_AGENT_S
    start_failure: StartFailure | None = None  # the handler refused to run it (runAsUser)
    outcome: str = ""  # the outcome class the model chose (ground truth)
    trailer: str = ""  # printed after both streams when the script ends by itself (a wrapper's)
    blobs: BlobOutput | None = None  # output blobs requested and an agent writing them


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
        """Whether the handler picked the command up (the view has a ``startTime``)."""
        return self.started_at is not None


def view(ex: Execution, now: float) -> ExecView:
    """The execution's state at ``now``.

    ``canceled_at`` is only ever set on an execution that was not terminal at that moment, so
    from then on it is Canceled, whatever the (possibly identical) timestamps of its end say.
    """
    at = now if ex.canceled_at is None else min(now, ex.canceled_at)
    seen = _blob_gate(ex, ungated_view(ex, at), at)
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


def ungated_view(ex: Execution, t: float) -> ExecView:
    """What the script itself has done by ``t`` (no cancellation, no output blobs)."""
    return _live_view(ex, t) if ex.live is not None else _model_view(ex, t)


def _blob_gate(ex: Execution, seen: ExecView, t: float) -> ExecView:
    """The handler's output blobs decide what it reports (see the module docstring)."""
    blobs = ex.blobs
    if blobs is None or not seen.started:
        return seen
    if blobs.failure is not None and blobs.failed_at is not None and t >= blobs.failed_at:
        failure, start = blobs.failure, seen.started_at
        return ExecView(ExecState.FAILED, start, blobs.failed_at, failure.exit_code,
                        message=failure.message)  # fmt: skip
    if seen.state.terminal and not blobs.flushed:
        assert seen.started_at is not None
        return _running(ex, seen.started_at, seen.output, seen.error)
    return seen


def _model_view(ex: Execution, t: float) -> ExecView:
    start = ex.created_at + ex.pending_s
    if not ex.agent_ready or t < start:
        return ExecView(ExecState.PENDING)
    if ex.start_failure is not None:
        failure = ex.start_failure
        return ExecView(ExecState.FAILED, start, start, failure.exit_code, message=failure.message)
    limit = math.inf if ex.timeout_s is None else start + ex.timeout_s
    end = start + ex.duration_s
    if ex.wedged or t < min(end, limit):
        shown = rc_handler.refreshed_at(t - start, ex.refresh_s)
        out, err = _produced(ex, shown)
        return _running(ex, start, out, err)
    if limit < end:
        out, err = _produced(ex, limit - start)
        return _killed(ex, start, limit, out, err)
    output, error = tail_utf8(ex.output + ex.trailer), tail_utf8(ex.error + ex.trailer)
    return _ended(ex, start, end, ex.exit_code, output, error)


def _produced(ex: Execution, elapsed: float) -> tuple[str, str]:
    """The streams a ``duration_s``-long run has written after ``elapsed`` seconds."""
    frac = 1.0 if ex.duration_s <= 0 else min(1.0, elapsed / ex.duration_s)
    out = ex.output[: int(len(ex.output) * frac)]
    err = ex.error[: int(len(ex.error) * frac)]
    return tail_utf8(out), tail_utf8(err)


def streams_at(ex: Execution, t: float) -> tuple[bytes, bytes, bool]:
    """(stdout, stderr) as the script has written them by ``t``, whole (not a tail), and whether
    it has stopped writing for good (ended, killed at its timeout, or refused to start). A model
    run writes its planned output evenly over its duration; a wrapper's trailer comes last on
    both streams, and only when the script ends by itself."""
    if ex.live is not None:
        live = ex.live
        done = live.ended_at is not None and live.ended_at <= t
        return bytes(live.full_stdout), bytes(live.full_stderr), done
    start = ex.created_at + ex.pending_s
    if ex.start_failure is not None:
        return b"", b"", t >= start
    limit = math.inf if ex.timeout_s is None else start + ex.timeout_s
    end = start + ex.duration_s
    out, err = ex.output.encode(), ex.error.encode()
    if ex.wedged or t < min(end, limit) or limit < end:
        frac = 1.0 if ex.duration_s <= 0 else min(1.0, (min(t, limit) - start) / ex.duration_s)
        done = not ex.wedged and t >= limit
        return out[: int(len(out) * max(frac, 0.0))], err[: int(len(err) * max(frac, 0.0))], done
    trailer = ex.trailer.encode()
    return out + trailer, err + trailer, True


def _running(ex: Execution, start: float, out: str, err: str) -> ExecView:
    if ex.os == "windows":  # closed-source handler: no exit code or message while running
        return ExecView(ExecState.RUNNING, started_at=start, output=out, error=err)
    return ExecView(
        ExecState.RUNNING, start, None, 0, out, err, message=rc_handler.LINUX_IN_PROGRESS
    )


def _killed(ex: Execution, start: float, end: float, out: str, err: str) -> ExecView:
    """The handler killed the script at ``timeoutInSeconds``."""
    code = KILLED_EXIT_CODE
    if ex.os == "windows":
        message = rc_handler.windows_timed_out(ex.timeout_s or 0.0)
        return ExecView(ExecState.TIMED_OUT, start, end, code, out, err, message)
    return ExecView(ExecState.FAILED, start, end, code, out, err, rc_handler.linux_failed(code))


def _ended(ex: Execution, start: float, end: float, code: int, out: str, err: str) -> ExecView:
    state = ExecState.SUCCEEDED if code == 0 else ExecState.FAILED
    if ex.os == "windows":
        return ExecView(state, start, end, code, out, err)
    message = rc_handler.LINUX_COMPLETED if code == 0 else rc_handler.linux_failed(code)
    return ExecView(state, start, end, code, out, err, message)


def _live_view(ex: Execution, t: float) -> ExecView:
    live = ex.live
    assert live is not None
    if live.started_at is None or live.started_at > t:
        return ExecView(ExecState.PENDING)
    start = live.started_at
    if live.ended_at is None or live.ended_at > t:
        return _running(ex, start, *_live_snapshot(ex, live, t - start))
    out, err = tail_utf8(live.stdout), tail_utf8(live.stderr)
    if live.timed_out:
        return _killed(ex, start, live.ended_at, out, err)
    code = live.exit_code if live.exit_code is not None else KILLED_EXIT_CODE
    return _ended(ex, start, live.ended_at, code, out, err)


def _live_snapshot(ex: Execution, live: LiveRun, elapsed: float) -> tuple[str, str]:
    """A real process's tail as of the handler's last status tick.

    The bytes are captured when a read first falls into a new tick, so they may include output
    written a little after the tick itself (the streams are not kept per tick)."""
    if ex.refresh_s <= 0:
        return tail_utf8(live.stdout), tail_utf8(live.stderr)
    tick = int(rc_handler.refreshed_at(elapsed, ex.refresh_s) / ex.refresh_s + 0.5)
    if tick > live.tick:
        live.tick, live.shown = tick, (tail_utf8(live.stdout), tail_utf8(live.stderr))
    return live.shown

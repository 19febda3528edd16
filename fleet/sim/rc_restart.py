"""What a VM restart does to the managed run commands in flight on it (the action run command
handles its own restarts in ``fleet.sim.action``).

* A running script dies with the VM, and the Linux handler never reports it again: after the
  reboot the agent re-invokes ``enable`` with the same sequence number, which the handler already
  recorded as processed (``mrseq``) and skips (Azure/run-command-handler-linux
  internal/cmds/cmds.go ``enablePre`` / ``ErrAlreadyProcessed``; the pre-check fails before
  ``ProcessHandlerCommandWithDetails`` reports anything). The instance view keeps its last
  report, ``Running`` with the output tail of the last status tick, for good: the emulator marks
  the execution wedged with that tail as its whole output. ``timeoutInSeconds`` does not end it
  either: the handler enforces it with ``exec.CommandContext`` (internal/exec/exec.go) in the
  process the restart killed, so a Linux run killed this way never becomes ``Failed`` / -1.
* A script that had not started yet waits for the agent to come back, then starts; if the agent
  never comes back it is an execution on a dead agent.
* Exec mode: a running process is killed and the execution then behaves as above. One that is
  still queued for a process slot is left alone (it starts when a slot frees).
"""

from __future__ import annotations

from fleet.sim.model import SimVm
from fleet.sim.rc_state import ExecState, view
from fleet.sim.runcommands import ExecRunner, RunCommandStore


def interrupt_managed(
    store: RunCommandStore,
    runner: ExecRunner | None,
    vm: SimVm,
    now: float,
    resume_at: float | None,
) -> int:
    """Apply a restart of ``vm`` at ``now``; returns how many running scripts it killed."""
    killed = 0
    for rc in store.list(vm):
        ex = rc.execution
        seen = view(ex, now)
        if seen.state.terminal:
            continue
        if seen.state is ExecState.RUNNING:
            if ex.live is not None and runner is not None:
                runner.cancel(ex)
            started = now if seen.started_at is None else seen.started_at
            # the last report stays on view for good (model and exec mode alike)
            ex.pending_s, ex.live, ex.duration_s = started - ex.created_at, None, 0.0
            if ex.blobs is not None:
                ex.blobs.halted = True  # the handler's ticker died too: no more appends
            ex.output, ex.error, ex.wedged = seen.output, seen.error, True
            killed += 1
        elif ex.live is not None:
            continue  # queued for an exec slot: it starts on its own
        elif resume_at is None:
            ex.agent_ready = False
        else:
            ex.pending_s = max(ex.pending_s, resume_at - ex.created_at)
    return killed

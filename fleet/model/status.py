"""``Status``: a target's final outcome — Azure's execution states plus fleet's own."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Per-target outcome: Azure's execution states plus fleet's own. Final, except RUNNING."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"  # the script ran and exited non-zero
    TIMED_OUT = "TimedOut"  # stopped at timeoutInSeconds (Linux says Failed/-1: see outcome)
    CANCELED = "Canceled"
    SKIPPED = "Skipped"  # not attempted (e.g. VM not running); reason says why
    ACCESS_DENIED = "AccessDenied"
    NOT_FOUND = "NotFound"
    CONFLICT = "Conflict"
    THROTTLED_OUT = "ThrottledOut"  # still throttled when the run's deadline came
    WEDGED = "Wedged"  # still Running past its timeout plus grace
    AGENT_NOT_READY = "AgentNotReady"  # Pending until Azure gave up, or past pending_timeout
    LIMIT_REACHED = "LimitReached"  # the VM holds 25 run commands and none fleet could free
    REBOOT_TIMED_OUT = "RebootTimedOut"  # restarted after its script; not back in reboot_timeout
    ERROR = "Error"  # platform or fleet error; reason says which
    NOT_STARTED = "NotStarted"
    # Not final: only in a report read from the journal of a run still in flight or
    # interrupted — the target was launched and its result is not known yet.
    RUNNING = "Running"

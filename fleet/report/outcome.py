"""What one target of a report document is to a reader — ``passed``, ``failure`` (the check
failed), ``error`` (the platform kept it from being checked) or ``skipped`` — and the tail of
what it printed. Shared by the JUnit, CSV and HTML reports and the dashboard.

The job's verdict decides when the report has one (``expect:``: a target whose script
succeeded can still fail its output checks, and an allowed exit code passes a Failed one);
otherwise the status does. Pure; reads the JSON report's target dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet.model import Status

#: The script ran and did not succeed, or its VM did not come back from the reboot it asked
#: for: a failed check.
FAILURE = frozenset(
    {
        Status.FAILED.value,
        Status.TIMED_OUT.value,
        Status.WEDGED.value,
        Status.REBOOT_TIMED_OUT.value,
    }
)
#: Not attempted, or no result yet (a run in flight): nothing is known about its health.
SKIPPED = frozenset({Status.SKIPPED.value, Status.NOT_STARTED.value, Status.RUNNING.value})
BAD = frozenset({"failure", "error"})
TAIL_LINES = 40
TAIL_CHARS = 4000


def kind_of(status: str) -> str:
    """``passed``, ``failure``, ``error`` or ``skipped`` for a status name alone."""
    if status == Status.SUCCEEDED.value:
        return "passed"
    if status in FAILURE:
        return "failure"
    if status in SKIPPED:
        return "skipped"
    return "error"


def verdict_of(target: Mapping[str, Any]) -> dict[str, Any]:
    """The target's verdict dict (``verdict``, ``reason``, ``values``), empty when none."""
    verdict = target.get("verdict")
    return verdict if isinstance(verdict, dict) else {}


def outcome(target: Mapping[str, Any]) -> str:
    """``passed``, ``failure``, ``error`` or ``skipped`` for a report's target: its verdict
    when it has one, else its status."""
    by_status = kind_of(target["status"])
    verdict = verdict_of(target).get("verdict")
    if verdict == "pass":
        return "passed"
    if verdict == "skip":
        return "skipped"
    if verdict == "fail":
        return "error" if by_status in ("error", "skipped") else "failure"
    return by_status


def tail(text: str, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str:
    """The last ``lines`` lines of ``text``, at most ``chars`` characters; "…" marks a cut."""
    every = text.splitlines()
    out = "\n".join(every[-lines:])
    cut = len(every) > lines or len(out) > chars
    out = out[-chars:]
    return f"…\n{out}" if cut else out

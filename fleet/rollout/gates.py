"""Health gates (pure): which targets a gate checks and whether what they said passes.

A gate checks either the batch just completed — every target of it whose script ran to an exit
code (Succeeded or Failed: a target whose patch failed may be the broken one) — or the sentinel
targets its ``sentinels`` globs name. It passes when every checked target ran the gate script
to ``expect_exit_code`` and, if ``expect_output`` is set, that regular expression is found in
the target's output. A gate with nothing to check passes (the error budget already saw why).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from fleet.model import HealthGate, Status, Target, TargetResult, name_matches

_SHOWN = 3  # failing targets named in a gate's reason


def matches_sentinels(target: Target, globs: Sequence[str]) -> bool:
    return name_matches(target.name, globs)


def gate_targets(
    gate: HealthGate, batch: Sequence[TargetResult], pool: Sequence[Target] = ()
) -> list[Target]:
    """The targets ``gate`` checks after ``batch``; ``pool``: where sentinels are looked up."""
    if gate.sentinels:
        return [t for t in pool if matches_sentinels(t, gate.sentinels)]
    ran = (Status.SUCCEEDED, Status.FAILED)
    return [r.target for r in batch if r.status in ran]


def check_one(gate: HealthGate, result: TargetResult) -> str | None:
    """Why ``result`` fails ``gate``, or None when it passes."""
    if result.status not in (Status.SUCCEEDED, Status.FAILED):
        detail = f" ({result.reason})" if result.reason else ""
        return f"{result.status.value}{detail}"
    if result.status is Status.FAILED and result.exit_code is None:
        # e.g. an action run command cut off before fleet's marker: it never passes a gate
        return f"no exit code ({result.reason})" if result.reason else "no exit code"
    code = 0 if result.exit_code is None else result.exit_code
    if code != gate.expect_exit_code:
        return f"exit code {code} (expected {gate.expect_exit_code})"
    if gate.expect_output is not None and not re.search(
        gate.expect_output, result.output, re.MULTILINE
    ):
        return f"output does not match {gate.expect_output!r}"
    return None


def evaluate(gate: HealthGate, results: Sequence[TargetResult]) -> tuple[bool, str]:
    """(passed, reason) for the gate script's results on the checked targets."""
    if not results:
        return True, "no target to check"
    failed = [(r.target.name, why) for r in results if (why := check_one(gate, r)) is not None]
    if not failed:
        return True, f"ok on {len(results)} target{'s' if len(results) != 1 else ''}"
    shown = "; ".join(f"{name}: {why}" for name, why in failed[:_SHOWN])
    more = f"; and {len(failed) - _SHOWN} more" if len(failed) > _SHOWN else ""
    return False, f"{len(failed)} of {len(results)} checked targets failed: {shown}{more}"

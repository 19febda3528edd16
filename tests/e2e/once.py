"""Exactly once, checked against ground truth: the emulator's count of executions and of PUT
requests per run command (``/_sim/executions``) against what fleet's journal says it sent.

Per target of a run, for the job's run command:

- the script ran once if the report says it ran (Succeeded or Failed), else never — with the
  emulator re-running every applied PUT (``identical_put_reruns``), a second PUT of the same
  body would show here as a second execution;
- at most one PUT was applied;
- the PUT requests that reached the emulator are exactly the intents the journal holds, minus
  the intents a resumed run proved never arrived (``NotArrived``: a crash between the intent
  and the PUT) — nothing below fleet re-sent one. A 429 would be a request more (fleet's
  throttle policy re-sends those); the callers check that there were none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fleet.engine.execute import NEVER_ARRIVED
from fleet.journal import Journal, State

RAN = ("Succeeded", "Failed")


def journal_puts(state: Path, run_id: str) -> dict[str, tuple[int, int]]:
    """Per lower-cased target id: (intents journaled, intents proven never to have arrived)."""
    with Journal.open(state, writable=False) as journal:
        transitions = journal.transitions(run_id)
    intents: Counter[str] = Counter()
    unsent: Counter[str] = Counter()
    for transition in transitions:
        key = transition.target_id.lower()
        if transition.state is State.INTENT_PUT:
            intents[key] += 1
        elif transition.state is State.PUT_FAILED and transition.detail.get("code") == (
            NEVER_ARRIVED.code
        ):
            unsent[key] += 1
    return {key: (intents[key], unsent[key]) for key in intents}


def _per_target(truth: Mapping[str, Any], what: str, run_command: str) -> dict[str, int]:
    return {t.lower(): names.get(run_command, 0) for t, names in truth[what].items()}


def problems(
    truth: Mapping[str, Any],
    targets: Mapping[str, str],
    run_command: str,
    sent: Mapping[str, tuple[int, int]],
) -> list[str]:
    """Every departure from exactly once; ``targets``: target id -> reported status."""
    executed = _per_target(truth, "executed_per_target", run_command)
    applied = _per_target(truth, "puts_applied_per_target", run_command)
    requests = _per_target(truth, "put_requests_per_target", run_command)
    found = []
    for target_id, status in targets.items():
        key = target_id.lower()
        intents, unsent = sent.get(key, (0, 0))
        counts = (executed.get(key, 0), applied.get(key, 0), requests.get(key, 0))
        wanted_runs = 1 if status in RAN else 0
        if counts[0] != wanted_runs or counts[1] > 1 or counts[2] != intents - unsent:
            found.append(
                f"{target_id} ({status}): executed {counts[0]} (want {wanted_runs}), PUTs "
                f"applied {counts[1]} (want <= 1), PUT requests {counts[2]} (journal: "
                f"{intents} intents, {unsent} proven never sent)"
            )
    return found


def put_throttles(stats: Mapping[str, Any]) -> int:
    """429s the emulator answered to run-command PUTs."""
    return sum(
        int(by_status.get("429", 0))
        for op, by_status in stats["statuses"].items()
        if op.endswith("RunCommands_CreateOrUpdate")
    )

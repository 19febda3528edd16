"""classify: a target's transitions → what resume must do with it (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.journal.records import Phase, State, Transition, classify
from tests.journal import EPOCH

TID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
INTENT = {"run_command": "fleet-patch", "run_id_param": "r1"}


def history(*steps: tuple[State, dict[str, Any]]) -> list[Transition]:
    return [Transition("r1", i + 1, TID, EPOCH, s, d) for i, (s, d) in enumerate(steps)]


SELECTED = (State.SELECTED, {})
INTENT_PUT = (State.INTENT_PUT, INTENT)
ACCEPTED = (State.PUT_ACCEPTED, {})
POLLED = (State.POLLED, {"execution_state": "Running"})
FINAL = (State.FINAL, {"status": "Succeeded", "exit_code": 0})
REFUSED = (State.PUT_FAILED, {"status": 409, "arrived": False})
UNKNOWN = (State.PUT_FAILED, {"status": 0, "arrived": None})


@pytest.mark.parametrize(
    ("steps", "phase"),
    [
        ([SELECTED], Phase.NOT_STARTED),
        ([SELECTED, INTENT_PUT], Phase.AMBIGUOUS),
        ([SELECTED, INTENT_PUT, UNKNOWN], Phase.AMBIGUOUS),
        ([SELECTED, INTENT_PUT, REFUSED], Phase.NOT_STARTED),
        ([SELECTED, INTENT_PUT, REFUSED, INTENT_PUT], Phase.AMBIGUOUS),
        ([SELECTED, INTENT_PUT, ACCEPTED], Phase.RUNNING),
        ([SELECTED, INTENT_PUT, ACCEPTED, POLLED, POLLED], Phase.RUNNING),
        ([SELECTED, INTENT_PUT, ACCEPTED, POLLED, FINAL], Phase.DONE),
        ([SELECTED, FINAL], Phase.DONE),  # decided without a PUT (e.g. skipped)
    ],
)
def test_phase_is_decided_by_the_latest_transition(
    steps: list[tuple[State, dict[str, Any]]], phase: Phase
) -> None:
    assert classify(TID, history(*steps)).phase is phase


def test_order_is_by_seq_not_by_position() -> None:
    steps = history(SELECTED, INTENT_PUT, ACCEPTED)
    assert classify(TID, list(reversed(steps))).phase is Phase.RUNNING


def test_latest_state_carries_what_resume_needs() -> None:
    state = classify(TID, history(SELECTED, INTENT_PUT, REFUSED, INTENT_PUT))
    assert (state.intents, state.run_command, state.run_id_param) == (2, "fleet-patch", "r1")
    assert state.last.seq == 4 and state.final is None
    done = classify(TID, history(SELECTED, INTENT_PUT, ACCEPTED, FINAL))
    assert done.final == {"status": "Succeeded", "exit_code": 0}


def test_a_target_without_transitions_is_a_bug() -> None:
    with pytest.raises(ValueError, match="no transitions"):
        classify(TID, [])

"""What the journal stores and hands back: frozen records for runs, targets and per-target
transitions, and the pure rule that turns a target's transitions into what resume must do.

The per-target state machine, as journaled (append-only; the latest transition wins)::

    SELECTED ──► INTENT_PUT ──► PUT_ACCEPTED ──► (POLLED …) ──► FINAL
        │            │  ▲                   │
        │            ▼  │                   └─► INTENT_REBOOT ──► REBOOT_ACCEPTED ──► FINAL
        │        PUT_FAILED                       │  ▲
        │                                         ▼  │ (again only once proven lost)
        │                                    REBOOT_FAILED
        └──────────────────────────────────────────────────────► FINAL   (skipped, not run)

(a new intent only after Azure proved the last PUT, or restart, never arrived)

``classify`` maps a target's transitions to a :class:`Phase`:

=============  =====================================================================
NOT_STARTED    nothing past SELECTED, or the last PUT was refused (Azure proved it never
               arrived): a PUT is safe.
AMBIGUOUS      INTENT_PUT (or a PUT whose fate is unknown) is the latest: the PUT may have
               reached Azure. GET the run command first; PUT only if Azure has no resource
               carrying this run's id.
RUNNING        Azure accepted the PUT and there is no FINAL: re-attach (poll), never PUT.
REBOOTING      the script finished and a restart was about to be sent (INTENT_REBOOT, with
               the script's result and the instance view read before it), was accepted, or
               failed: go on with the reboot (``reboot_arrived`` says whether Azure has
               it; None = ask Azure first), never restart twice.
DONE           FINAL recorded.
=============  =====================================================================

No I/O here; ``fleet.journal.store`` reads rows and calls ``classify``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from fleet.model import Target

RUNNING = "running"  # runs.ended while a writer is (or was, until it died) writing the run
CRASHED = "crashed"  # what readers report for a "running" run whose writer is provably gone


class State(StrEnum):
    """A journaled per-target transition."""

    SELECTED = "SELECTED"
    INTENT_PUT = "INTENT_PUT"  # durable before the PUT is sent
    PUT_ACCEPTED = "PUT_ACCEPTED"
    PUT_FAILED = "PUT_FAILED"  # detail.arrived: false = Azure refused it, null = fate unknown
    POLLED = "POLLED"  # optional and sparse: informational only
    INTENT_REBOOT = "INTENT_REBOOT"  # durable before the restart is sent (schema version 2)
    REBOOT_ACCEPTED = "REBOOT_ACCEPTED"  # Azure accepted the restart (or proved it arrived)
    REBOOT_FAILED = "REBOOT_FAILED"  # detail.arrived: false = refused or lost, null = unknown
    FINAL = "FINAL"


class Phase(StrEnum):
    """What a resumed run must do with a target (see the module docstring)."""

    NOT_STARTED = "not-started"
    AMBIGUOUS = "ambiguous"
    RUNNING = "running"
    REBOOTING = "rebooting"
    DONE = "done"


@dataclass(frozen=True)
class PlannedTarget:
    """A target as the run plans it: its batch (0 = the only one, or the canary)."""

    target: Target
    batch: int = 0


@dataclass(frozen=True)
class JournalTarget:
    """A row of the ``targets`` table: the target, its batch and its position in the plan."""

    target: Target
    batch: int
    order: int


@dataclass(frozen=True)
class Transition:
    run_id: str
    seq: int  # per run, strictly increasing in write order
    target_id: str
    at: datetime
    state: State
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class LatestState:
    """A target's state for resume: the phase plus what is needed to act on it."""

    target_id: str
    phase: Phase
    last: Transition  # the latest transition (SELECTED at least)
    intents: int  # INTENT_PUT records so far (PUTs attempted)
    run_command: str | None = None  # from the latest intent: what to GET on Azure
    run_id_param: str | None = None  # the FLEET_RUN_ID value that PUT carried
    handle: str | None = None  # what the accepted launch answered (an action's operation URL)
    final: Mapping[str, Any] | None = None  # the FINAL detail when DONE
    reboot: Transition | None = None  # REBOOTING: the latest INTENT_REBOOT
    reboot_arrived: bool | None = None  # REBOOTING: True accepted, False refused/lost, None ?
    reboot_error: Mapping[str, Any] | None = None  # REBOOTING after REBOOT_FAILED: its detail
    reboot_intents: int = 0  # INTENT_REBOOT records so far


@dataclass(frozen=True)
class RunRecord:
    """A row of ``runs``. ``spec`` is the secret-free spec; ``ended`` is ``running`` while a
    live writer holds the run and ``crashed`` when its writer is provably gone."""

    run_id: str
    job: str
    source: str
    spec: Mapping[str, Any]
    spec_hash: str
    script_hash: str
    who: str
    started_at: datetime
    ended_at: datetime | None
    ended: str
    target_count: int
    summary: Mapping[str, Any] | None
    has_report: bool
    resumes: int = 0
    recipe: Mapping[str, Any] | None = None  # how to rebuild the spec and connection (resume)

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


_REBOOTING = (State.INTENT_REBOOT, State.REBOOT_ACCEPTED, State.REBOOT_FAILED)


def _phase_of(last: Transition) -> Phase:
    if last.state is State.FINAL:
        return Phase.DONE
    if last.state in _REBOOTING:
        return Phase.REBOOTING
    if last.state in (State.PUT_ACCEPTED, State.POLLED):
        return Phase.RUNNING
    if last.state is State.INTENT_PUT:
        return Phase.AMBIGUOUS
    if last.state is State.PUT_FAILED:
        # Only an explicit "did not arrive" makes a new PUT safe without asking Azure.
        return Phase.NOT_STARTED if last.detail.get("arrived") is False else Phase.AMBIGUOUS
    return Phase.NOT_STARTED


def classify(target_id: str, transitions: Sequence[Transition]) -> LatestState:
    """The latest state of one target from its transitions (any order; sorted by seq here)."""
    if not transitions:
        message = f"target {target_id} has no transitions (not even SELECTED)"
        raise ValueError(message)
    ordered = sorted(transitions, key=lambda t: t.seq)
    intents = [t for t in ordered if t.state is State.INTENT_PUT]
    latest_intent = intents[-1].detail if intents else {}
    since = intents[-1].seq if intents else -1
    handles = [
        t.detail["handle"]
        for t in ordered
        if t.state is State.PUT_ACCEPTED and t.seq > since and t.detail.get("handle")
    ]
    last = ordered[-1]
    phase = _phase_of(last)
    reboots = [t for t in ordered if t.state is State.INTENT_REBOOT]
    return LatestState(
        target_id=target_id,
        phase=phase,
        last=last,
        intents=len(intents),
        run_command=latest_intent.get("run_command"),
        run_id_param=latest_intent.get("run_id_param"),
        handle=str(handles[-1]) if handles else None,
        final=last.detail if phase is Phase.DONE else None,
        reboot=reboots[-1] if reboots and phase is Phase.REBOOTING else None,
        reboot_arrived=_reboot_arrived(last) if phase is Phase.REBOOTING else None,
        reboot_error=last.detail if last.state is State.REBOOT_FAILED else None,
        reboot_intents=len(reboots),
    )


def _reboot_arrived(last: Transition) -> bool | None:
    """Whether the latest restart reached Azure, as far as the journal knows."""
    if last.state is State.REBOOT_ACCEPTED:
        return True
    if last.state is State.REBOOT_FAILED:
        arrived = last.detail.get("arrived")
        return arrived if isinstance(arrived, bool) else None
    return None  # INTENT_REBOOT: the restart may or may not have left

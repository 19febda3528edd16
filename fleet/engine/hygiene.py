"""fleet's side of Azure's per-VM run-command limit and of its own hygiene (pure): recognising
the limit's refusal, choosing which of fleet's own run commands to delete to free a slot, what
the cleanup policy deletes after a result, and what ``fleet clean`` deletes.

The one rule everywhere: fleet deletes only run commands that carry its marker
(``fleet.model.hygiene.is_fleets``) and whose execution state is final — never another tool's or
person's, never one still Pending or Running.

The limit's refusal is recognised by its message alone: "The maximum number of managed Run
commands (max=25, current=25) has been exceeded. ..." (MicrosoftDocs/azure-docs#117976; neither
the HTTP status nor the error code is documented).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fleet.engine.invocation import run_command_name
from fleet.model import (
    CallError,
    Cleanup,
    ListedRunCommand,
    Status,
    TargetResult,
)
from fleet.model.hygiene import MAX_RUN_COMMANDS_PER_VM

_LIMIT_TEXT = "maximum number of managed run commands"
_COUNTS = re.compile(r"max\s*=\s*(\d+)\s*,\s*current\s*=\s*(\d+)", re.IGNORECASE)
_FINAL_STATES = frozenset({"Succeeded", "Failed", "TimedOut", "Canceled"})


@dataclass(frozen=True)
class Limit:
    maximum: int
    current: int | None  # None when the message did not say


def limit_of(err: CallError) -> Limit | None:
    """The per-VM limit a refusal names, or None when ``err`` is not that refusal."""
    if _LIMIT_TEXT not in err.message.lower():
        return None
    counts = _COUNTS.search(err.message)
    if counts is None:
        return Limit(MAX_RUN_COMMANDS_PER_VM, None)
    return Limit(int(counts[1]), int(counts[2]))


def _oldest_first(item: ListedRunCommand) -> tuple[int, datetime | str]:
    when = item.finished_at
    return (0, item.name.lower()) if when is None else (1, when)


@dataclass(frozen=True)
class SlotPlan:
    """What is on a VM at the limit, and which of fleet's run commands to delete."""

    delete: tuple[ListedRunCommand, ...]  # fleet's own finished ones, oldest first
    others: int  # run commands that are not fleet's
    busy: int  # fleet's, still Pending or Running
    total: int
    needed: int = 1  # slots to free; 0: someone freed one since the refusal

    @property
    def blocked(self) -> bool:
        """No slot is free and fleet has none it may free."""
        return self.needed > 0 and not self.delete


def plan_slots(listed: Sequence[ListedRunCommand], maximum: int, launching: str) -> SlotPlan:
    """Delete as few of fleet's finished run commands as make room for one more, oldest first;
    never ``launching`` (the name about to be PUT), another's, or one in flight."""
    mine = [c for c in listed if c.fleets and c.name.lower() != launching.lower()]
    finished = sorted((c for c in mine if c.finished), key=_oldest_first)
    needed = max(0, len(listed) - maximum + 1)
    return SlotPlan(
        delete=tuple(finished[:needed]) if len(finished) >= needed else (),
        others=sum(1 for c in listed if not c.fleets),
        busy=sum(1 for c in mine if not c.finished),
        total=len(listed),
        needed=needed,
    )


def limit_reason(limit: Limit, plan: SlotPlan | None, detail: str = "") -> str:
    """Why a target could not be launched at the limit: names the limit and who holds it."""
    head = f"the VM holds Azure's maximum of {limit.maximum} managed run commands"
    if plan is None:
        return f"{head}; fleet could not list them to free a slot ({detail})"
    return (
        f"{head} ({plan.total} now): {plan.others} belong to other tools or people and "
        f"{plan.busy} of fleet's are still Pending or Running; fleet deletes neither, so no "
        f"slot could be freed{f' ({detail})' if detail else ''}. Delete some of them (az vm "
        "run-command delete) or wait for fleet's to finish, then rerun"
    )


def cleanup_wanted(policy: Cleanup, result: TargetResult) -> bool:
    """Whether the cleanup policy deletes the run command behind ``result`` (read final)."""
    if policy is Cleanup.KEEP_LAST or result.execution_state not in _FINAL_STATES:
        return False
    if result.status is Status.CANCELED:  # canceled by fleet: deleted already
        return False
    return policy is Cleanup.ALWAYS or result.status is Status.SUCCEEDED


@dataclass(frozen=True)
class CleanVerdict:
    """What ``fleet clean`` does with one listed run command, and why."""

    item: ListedRunCommand
    delete: bool
    why: str


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def of_job(item: ListedRunCommand, job: str) -> bool:
    """Whether fleet's ``item`` belongs to job ``job`` (its tag, or its run-command name)."""
    return item.job == job or item.name.lower() == run_command_name(job).lower()


def clean_verdict(
    item: ListedRunCommand, *, job: str | None, older_than_s: int | None, now: datetime
) -> CleanVerdict:
    """Delete fleet's own finished run commands (of ``job``, finished ``older_than_s`` ago)."""
    if not item.fleets:
        return CleanVerdict(item, False, "not fleet's: left alone")
    if job is not None and not of_job(item, job):
        return CleanVerdict(item, False, f"job {item.job!r}, not {job!r}")
    if not item.finished:
        return CleanVerdict(item, False, f"still {item.view.execution_state}: left alone")
    when = item.finished_at
    age = None if when is None else max(0.0, (now - when).total_seconds())
    if older_than_s is not None and (age is None or age < older_than_s):
        shown = "age unknown" if age is None else f"finished {_age(age)} ago"
        return CleanVerdict(item, False, f"{shown}: not older than {_age(older_than_s)}")
    shown = "" if age is None else f" {_age(age)} ago"
    return CleanVerdict(item, True, f"{item.view.execution_state}{shown}")

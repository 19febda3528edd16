"""What fleet leaves on the VMs: the marker that tells fleet's run commands from everyone
else's, the cleanup policy a job chooses, a run command as a listing shows it, and the record
of one that fleet deleted. Pure vocabulary.

The marker: a run command is fleet's when its name starts with ``fleet-`` AND it carries the
tags ``fleet-managed: "true"``, ``fleet-job: <job>`` and ``fleet-run-id: <run id>``. A
``fleet-x`` without those tags is someone else's (a look-alike), and is never touched. ARM
compares tag names case-insensitively and tag values exactly; so does :func:`is_fleets`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fleet.model.calls import RunView

FLEET_PREFIX = "fleet-"
TAG_MANAGED = "fleet-managed"
TAG_JOB = "fleet-job"
TAG_RUN_ID = "fleet-run-id"
_TAG_VALUE_MAX = 256  # ARM's limit on a tag value

#: Azure's published limit of managed run commands per VM (MicrosoftDocs/azure-docs#117976).
MAX_RUN_COMMANDS_PER_VM = 25


class Cleanup(StrEnum):
    """What fleet deletes once a target's result has been read (``rollout.cleanup``)."""

    KEEP_LAST = "keep-last"  # nothing: one run command per job (and gate) stays per VM
    DELETE_ON_SUCCESS = "delete-on-success"  # the run command of a target that succeeded
    ALWAYS = "always"  # every finished one (never one still Pending or Running)


def marker_tags(job: str, run_id: str) -> dict[str, str]:
    """The tags every run command fleet creates carries."""
    return {
        TAG_MANAGED: "true",
        TAG_JOB: job[:_TAG_VALUE_MAX],
        TAG_RUN_ID: run_id[:_TAG_VALUE_MAX],
    }


def is_fleets(name: str, tags: Mapping[str, str]) -> bool:
    """Whether a run command carries fleet's marker (name prefix and all three tags)."""
    lowered = {k.lower(): v for k, v in tags.items()}
    tagged = lowered.get(TAG_MANAGED) == "true" and TAG_JOB in lowered and TAG_RUN_ID in lowered
    return name.lower().startswith(FLEET_PREFIX) and tagged


@dataclass(frozen=True)
class ListedRunCommand:
    """One run command on a VM, as listing the VM's run commands (with instance views) shows
    it: whoever created it."""

    name: str
    tags: tuple[tuple[str, str], ...]
    view: RunView

    @property
    def fleets(self) -> bool:
        return is_fleets(self.name, dict(self.tags))

    @property
    def job(self) -> str | None:
        """The ``fleet-job`` tag of one of fleet's run commands (None for others')."""
        if not self.fleets:
            return None
        return next(v for k, v in self.tags if k.lower() == TAG_JOB)

    @property
    def finished(self) -> bool:
        """Its execution state is final: nothing is running or waiting to run."""
        return self.view.terminal

    @property
    def finished_at(self) -> datetime | None:
        """When it ended (its start when Azure gave no end; None when it said neither)."""
        return self.view.end_time or self.view.start_time


class DeleteReason(StrEnum):
    RECLAIMED = "reclaimed"  # freed a slot at Azure's per-VM limit so this run could launch
    CLEANUP = "cleanup"  # the job's cleanup policy, after the result was read


@dataclass(frozen=True)
class Deleted:
    """A run command fleet deleted on a target during a run (or tried to: ``error``)."""

    run_command: str
    reason: DeleteReason
    error: str | None = None  # why the DELETE was refused; None = deleted

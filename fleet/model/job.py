"""The parsed job: ``JobSpec`` (what to select, what to run, how fast, how to roll out, what
each target must show, and — for ``fleet serve`` — when it runs and whom it alerts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from fleet.model.alerts import AlertPolicy
from fleet.model.expect import Expectations
from fleet.model.output import OutputSpec
from fleet.model.rollout import RolloutPolicy
from fleet.model.schedule import Schedule
from fleet.model.script import ScriptSpec
from fleet.model.targets import Selector


class Mode(StrEnum):
    """How a job reaches the VMs: managed run commands (a resource per VM, PUT and read) or the
    older action run command (``POST .../runCommand``, one at a time per VM, no cancel)."""

    MANAGED = "managed"
    ACTION = "action"


@dataclass(frozen=True)
class Concurrency:
    """A fixed number or a percentage of the selected targets; None = as many as Azure allows."""

    count: int | None = None
    percent: float | None = None

    def resolve(self, total: int) -> int:
        if self.count is not None:
            return max(1, self.count)
        if self.percent is not None:
            return max(1, int(total * self.percent / 100))
        return max(1, total)


@dataclass(frozen=True)
class JobSpec:
    name: str
    selector: Selector
    script: ScriptSpec
    concurrency: Concurrency = Concurrency()
    source: str = "<flags>"  # the file the spec came from, for messages
    # batches, error budget, gates, deadline, cancel
    rollout: RolloutPolicy = field(default_factory=RolloutPolicy)
    # what each target must show to pass (the verdict in the report and the history)
    expect: Expectations = field(default_factory=Expectations)
    schedule: Schedule | None = None  # when ``fleet serve`` runs it (``fleet run`` ignores it)
    alerts: AlertPolicy = field(default_factory=AlertPolicy)  # webhooks ``fleet serve`` calls
    mode: Mode = Mode.MANAGED
    output: OutputSpec | None = None  # full outputs through append blobs (None: 4 KB tails)

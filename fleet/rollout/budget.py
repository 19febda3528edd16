"""The error budget (pure): which outcomes are failures, which are platform-side delivery
failures, and when the budget is exhausted.

Platform-side delivery failures are the ones the script never caused: the VM turned out not to
be running when the run command was sent (a 409 at launch; VMs preflight already saw stopped are
skipped before the rollout and count nowhere), access denied, a guest agent that never picked
the command up (``AgentNotReady``; ``TimedOut`` without a start time in journals of earlier
versions), and a VM at Azure's limit of run commands with none of fleet's to free
(``LimitReached``). They are counted separately and spend the budget only with
``count_platform_failures``. Every other final status except Succeeded,
Skipped (no script for the target's OS) and NotStarted is a failure.

The budget is exhausted once the failures spent *exceed* ``max_errors``: with ``max_errors: 2``
the third failure stops new launches. Targets already in flight at that moment finish and are
reported, so a run sees at most ``max_errors + 1`` failures plus those of the targets in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fleet.model import RolloutPolicy, Status, TargetResult


class FailureKind(StrEnum):
    NONE = "none"
    FAILURE = "failure"  # the script failed, or fleet/Azure could not get a result
    PLATFORM = "platform"  # not running / access denied / agent not ready / limit reached


def classify(result: TargetResult) -> FailureKind:
    status = result.status
    if status in (Status.SUCCEEDED, Status.NOT_STARTED):
        return FailureKind.NONE
    if status is Status.SKIPPED:
        # The runtime "not running" (409 at launch); other skips (no script for the OS) are
        # the job's own choice, not a failure.
        return FailureKind.PLATFORM if result.reason == "not running" else FailureKind.NONE
    if status in (Status.ACCESS_DENIED, Status.AGENT_NOT_READY, Status.LIMIT_REACHED):
        return FailureKind.PLATFORM
    if status is Status.TIMED_OUT and result.started_at is None:
        return FailureKind.PLATFORM  # the agent never started the script
    return FailureKind.FAILURE


@dataclass
class ErrorBudget:
    limit: int | None  # max_errors resolved to a count; None = unlimited
    count_platform: bool = False
    failures: int = 0
    platform: int = 0

    @classmethod
    def of(cls, policy: RolloutPolicy, targets: int) -> ErrorBudget:
        """The budget ``policy`` gives a rollout launching ``targets`` targets."""
        limit = None if policy.max_errors is None else policy.max_errors.rounded_down(targets)
        return cls(limit, policy.count_platform_failures)

    def record(self, result: TargetResult) -> FailureKind:
        kind = classify(result)
        if kind is FailureKind.FAILURE:
            self.failures += 1
        elif kind is FailureKind.PLATFORM:
            self.platform += 1
        return kind

    @property
    def spent(self) -> int:
        return self.failures + (self.platform if self.count_platform else 0)

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.spent > self.limit

    def describe(self) -> str:
        counted = "failures" if not self.count_platform else "failures (platform included)"
        return f"{self.spent} {counted} exceeded max_errors {self.limit}"

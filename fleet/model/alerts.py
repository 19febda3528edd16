"""Who hears about a scheduled job's changes: a job's ``alerts:`` section as a frozen
``AlertPolicy`` — webhooks (their URLs are secrets: read from the environment, never printed)
and the kinds of change that alert.

One alert per change, never a storm: a run alerts at most once per kind (``regression``:
targets that did not fail in the job's previous run fail in this one; ``recovery``: targets that
failed then pass now; ``run-failure``: the run did not complete where the previous one did).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fleet.model.secret import Secret


class AlertKind(StrEnum):
    REGRESSION = "regression"
    RECOVERY = "recovery"
    RUN_FAILURE = "run-failure"


class BodyFormat(StrEnum):
    GENERIC = "generic"  # the whole alert as JSON, for your own receiver
    SLACK = "slack"  # {"text": ...}: Slack, and Teams' (retiring) Office 365 connectors
    TEAMS = "teams"  # a message with an Adaptive Card: Teams Workflows webhooks


@dataclass(frozen=True)
class Webhook:
    url: Secret  # the whole URL: Slack and Teams put the credential in the path
    format: BodyFormat = BodyFormat.GENERIC
    env: str = ""  # the environment variable it came from, to name it in messages

    def describe(self) -> str:
        return f"webhook ${self.env}" if self.env else "webhook"


@dataclass(frozen=True)
class AlertPolicy:
    webhooks: tuple[Webhook, ...] = ()
    on: frozenset[AlertKind] = frozenset(AlertKind)

    def wants(self, kind: AlertKind) -> bool:
        return bool(self.webhooks) and kind in self.on

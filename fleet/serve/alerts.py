"""Which alerts a run raises, and their bodies (pure).

One alert per kind per run at most, and only on a change — never a storm:

- ``regression``: targets that did not fail in the job's previous run fail in this one (a new
  target that fails counts); the first run of a job is its baseline and raises none;
- ``recovery``: targets that failed in the previous run pass in this one;
- ``run-failure``: the run did not complete (error budget, gate, deadline, canceled) or could
  not start, where the job's previous run did not fail.

Bodies: the generic body is JSON for your own receiver (kind, job, run ids, summary, the
targets with their verdict and reason, the run's verdict counts); the ``slack`` body is
``{"text": ...}``, which Slack incoming webhooks and Teams' Office 365 connector webhooks accept;
the ``teams`` body is a message with one Adaptive Card, the only format Teams Workflows webhooks
take ("Workflows support Adaptive Cards only": learn.microsoft.com, Teams platform, "Create and
send messages" / connectors-using). At most ``LISTED`` targets are listed; ``more`` says how
many were left out. Everything a script or Azure said is redacted with the job's secrets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleet.history import Comparison, RunSummary, TargetChange, VerdictCounts
from fleet.model import AlertKind, AlertPolicy, BodyFormat
from fleet.secrets import Secrets
from fleet.serve.store import NewAlert

LISTED = 50
_SLACK_LINES = 20


@dataclass(frozen=True)
class Evaluation:
    """A run's outcome as alerts see it. ``comparison`` is None when the run never started."""

    job: str
    run_id: str
    at: datetime
    comparison: Comparison | None
    counts: VerdictCounts | None
    failure: str | None  # why the run failed (did not complete, could not start), else None


def run_failure(run: RunSummary, detail: str | None = None) -> str | None:
    """Why ``run`` counts as failed, or None when it completed."""
    if run.ended == "completed":
        return None
    return f"the run ended {run.ended}" + (f" ({detail})" if detail else "")


def draft(
    evaluation: Evaluation, policy: AlertPolicy, *, failed_before: bool, secrets: Secrets
) -> list[NewAlert]:
    """The alerts ``evaluation`` raises under ``policy`` (``failed_before``: whether the
    job's previous run failed)."""
    alerts = []
    comparison = evaluation.comparison
    if comparison is not None:
        alerts += _target_alert(evaluation, AlertKind.REGRESSION, comparison.regressions, "failing")
        alerts += _target_alert(evaluation, AlertKind.RECOVERY, comparison.recovered, "recovered")
    if evaluation.failure is not None and not failed_before:
        summary = f"{evaluation.job}: run {evaluation.run_id} failed — {evaluation.failure}"
        body = _body(evaluation, AlertKind.RUN_FAILURE, summary, ())
        alerts.append(NewAlert(AlertKind.RUN_FAILURE, summary, (), body))
    wanted = [a for a in alerts if policy.wants(a.kind)]
    return [
        NewAlert(a.kind, secrets.redact(a.summary), a.targets, secrets.scrub(a.body))
        for a in wanted
    ]


def _target_alert(
    evaluation: Evaluation, kind: AlertKind, changes: Sequence[TargetChange], what: str
) -> list[NewAlert]:
    if not changes:
        return []
    names = tuple(c.name for c in changes)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    noun = "target" if len(names) == 1 else "targets"
    newly = "newly " if kind is AlertKind.REGRESSION else ""
    summary = f"{evaluation.job}: {len(names)} {noun} {newly}{what}: {shown}"
    return [NewAlert(kind, summary, names, _body(evaluation, kind, summary, changes))]


def _body(
    evaluation: Evaluation, kind: AlertKind, summary: str, changes: Sequence[TargetChange]
) -> dict[str, Any]:
    comparison, counts = evaluation.comparison, evaluation.counts
    previous = comparison.previous if comparison is not None else None
    return {
        "kind": kind.value,
        "job": evaluation.job,
        "run_id": evaluation.run_id,
        "previous_run_id": None if previous is None else previous.run_id,
        "at": evaluation.at.isoformat(),
        "summary": summary,
        "failure": evaluation.failure,
        "targets": [_target(c) for c in changes[:LISTED]],
        "more": max(0, len(changes) - LISTED),
        "counts": None
        if counts is None
        else {"pass": counts.passed, "fail": counts.failed, "skip": counts.skipped},
    }


def _target(change: TargetChange) -> dict[str, Any]:
    after, before = change.after, change.before
    either = after or before
    return {
        "name": change.name,
        "id": either.target.id if either is not None else change.key,
        "change": change.change.value,
        "verdict": None if after is None else after.verdict.value,
        "reason": None if after is None else (after.judgement.reason or None),
        "before": None if before is None else before.verdict.value,
    }


def render(body: dict[str, Any], fmt: BodyFormat) -> dict[str, Any]:
    """What is POSTed to a webhook of format ``fmt``."""
    if fmt is BodyFormat.GENERIC:
        return body
    text = _text(body)
    if fmt is BodyFormat.SLACK:
        return {"text": text}
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": [{"type": "TextBlock", "text": line, "wrap": True} for line in text.split("\n")],
    }
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
    return {"type": "message", "attachments": [attachment]}


def _text(body: dict[str, Any]) -> str:
    lines = [body["summary"]]
    for target in body["targets"][:_SLACK_LINES]:
        reason = target.get("reason") or target.get("verdict") or ""
        lines.append(f"• {target['name']}: {reason}" if reason else f"• {target['name']}")
    left = len(body["targets"]) - _SLACK_LINES + body.get("more", 0)
    if left > 0:
        lines.append(f"… and {left} more")
    lines.append(f"run {body['run_id']}")
    return "\n".join(lines)

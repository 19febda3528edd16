"""The ``--report PATH`` JSON document, its atomic write, and the run's process exit code.

Owns the report's schema (``report_to_dict``) and ``exit_code_for``; everything the scripts
said is redacted with the run's ``fleet.secrets.Secrets`` when given. Reads only ``fleet.model``
objects; no Azure, no engine.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleet.model import (
    BatchRecord,
    Deleted,
    DeleteReason,
    GateRecord,
    Judgement,
    RolloutRecord,
    RunReport,
    ScriptIdentity,
    SourceKind,
    Status,
    Target,
    TargetResult,
    Verdict,
)
from fleet.report.files import write_atomic
from fleet.report.groups import OutputGroup, group_results
from fleet.report.reboots import reboot_dict, reboots_summary
from fleet.secrets import NO_SECRETS, Secrets

#: 3: ``reboots`` and per-target ``reboot`` added; 2: ``schema_version``, ``simulated``,
#: ``script`` (per OS variant: kind, SHA-256 of the text), ``cleanup`` and per-target ``os``
#: and ``deleted`` added; 1 (no ``schema_version``): the first reports.
SCHEMA_VERSION = 3

#: Statuses that prove Azure accepted the run command (the target was launched).
_LAUNCHED = frozenset(
    {
        Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT, Status.CANCELED, Status.WEDGED,
        Status.AGENT_NOT_READY, Status.REBOOT_TIMED_OUT, Status.RUNNING,
    }
)  # fmt: skip


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``; naive datetimes are taken to be UTC already."""
    if moment is None:
        return None
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def was_launched(result: TargetResult) -> bool:
    """Whether Azure accepted a run command for this target (it got an execution state)."""
    return result.status in _LAUNCHED or result.execution_state is not None


def target_fields(t: Target) -> dict[str, Any]:
    """Where a target is, as the report and ``fleet targets -o json`` show it."""
    return {
        "id": t.id,
        "name": t.name,
        "kind": t.kind.value,
        "subscription": t.subscription,
        "resource_group": t.resource_group,
        "location": t.location,
        "zone": t.zone,
        "os": t.os,
    }


def verdict_dict(judgement: Judgement) -> dict[str, Any]:
    """A target's verdict as the report shows it: pass/fail/skip, why, and the values read."""
    return {
        "verdict": judgement.verdict.value,
        "reason": judgement.reason or None,
        "values": dict(judgement.values),
    }


def _target_dict(r: TargetResult, judgement: Judgement) -> dict[str, Any]:
    return {
        **target_fields(r.target),
        "status": r.status.value,
        "reason": r.reason,
        "exit_code": r.exit_code,
        "execution_state": r.execution_state,
        "output": r.output,
        "error": r.error,
        "started_at": iso(r.started_at),
        "ended_at": iso(r.ended_at),
        "attempts": r.attempts,
        "polls": r.polls,
        "verdict": verdict_dict(judgement),
        "deleted": [deleted_dict(d) for d in r.deleted],
        # where the whole output is (blobs, local files), whether it may lack its end
        "full_output": None if r.full_output is None else r.full_output.to_json(),
        "reboot": reboot_dict(r.reboot),
    }


def deleted_dict(d: Deleted) -> dict[str, Any]:
    """One run command fleet deleted on a target (or failed to: ``error``)."""
    return {"run_command": d.run_command, "reason": d.reason.value, "error": d.error}


def _cleanup_dict(report: RunReport) -> dict[str, Any]:
    """What fleet deleted on the VMs during the run: how many, and why (the per-target lists
    are under each target's ``deleted``)."""
    done = [d for r in report.results for d in r.deleted]
    return {
        "policy": report.cleanup,
        "deleted": sum(1 for d in done if d.error is None),
        "reclaimed": sum(1 for d in done if d.error is None and d.reason is DeleteReason.RECLAIMED),
        "failed": sum(1 for d in done if d.error is not None),
    }


def _group_dict(g: OutputGroup) -> dict[str, Any]:
    return {
        "key": g.key,
        "count": g.count,
        "status": g.status.value,
        "exit_code": g.exit_code,
        "summary": g.summary,
        "targets": list(g.targets),
        "sample_output": g.sample_output,
        "sample_error": g.sample_error,
    }


def _script_dict(script: ScriptIdentity) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": script.kind.value, "sha256": script.sha256}
    if script.command_id is not None:
        out["command_id"] = script.command_id
    return out


def script_from_dict(raw: Mapping[str, Any] | None) -> tuple[ScriptIdentity, ...]:
    """The report's ``script`` section back as objects (``fleet show``)."""
    return tuple(
        ScriptIdentity(variant, SourceKind(v["kind"]), v.get("sha256"), v.get("command_id"))
        for variant, v in (raw or {}).items()
    )


def _per_target(count: int, launched: int) -> float | None:
    return round(count / launched, 3) if launched else None


def _arm_dict(report: RunReport) -> dict[str, Any]:
    arm = report.arm
    launched = sum(1 for r in report.results if was_launched(r))
    return {
        "requests": dict(sorted(arm.requests.items())),
        "throttled": arm.throttled,
        "throttle_wait_s": round(arm.throttle_wait_s, 3),
        "retries": arm.retries,
        "launched_targets": launched,
        "reads_per_target": _per_target(arm.requests.get("reads", 0), launched),
        "writes_per_target": _per_target(arm.requests.get("writes", 0), launched),
    }


def _summary_dict(results: tuple[TargetResult, ...]) -> dict[str, int]:
    counts = Counter(r.status for r in results)
    summary = {status.value: counts[status] for status in Status if counts[status]}
    summary["total"] = len(results)
    return summary


def report_to_dict(
    report: RunReport,
    *,
    secrets: Secrets = NO_SECRETS,
    groups: Sequence[OutputGroup] | None = None,
) -> dict[str, Any]:
    """The JSON-ready report. ``secrets``: values to redact wherever a script echoed them;
    ``groups``: the report's output groups if the caller has them already."""
    report = secrets.redact_report(report)
    if groups is None or secrets:
        groups = group_results(report.results)
    judged = sorted(zip(report.results, report.judgements(), strict=True), key=_by_target_id)
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": report.run_id,
        "job": report.job,
        "simulated": report.simulated,
        "script": {s.variant: _script_dict(s) for s in report.script},
        "started_at": iso(report.started_at),
        "finished_at": iso(report.finished_at),
        "ended": report.ended,
        "ended_detail": report.ended_detail,
        "summary": _summary_dict(report.results),
        "verdicts": _verdict_counts(j for _, j in judged),
        "targets": [_target_dict(r, j) for r, j in judged],
        "groups": [_group_dict(g) for g in groups],
        "arm": _arm_dict(report),
        "storage": _storage_dict(report),
        "rollout": _rollout_dict(report),
        "cleanup": _cleanup_dict(report),
        "reboots": reboots_summary(report),
    }


def _storage_dict(report: RunReport) -> dict[str, Any] | None:
    """What the output storage cost (None: the job had no ``output:``)."""
    storage = report.storage
    if storage is None:
        return None
    launched = sum(1 for r in report.results if was_launched(r))
    return {
        "storage_requests": storage.total,
        "requests": dict(sorted(storage.requests.items())),
        "errors": storage.errors,
        "bytes_read": storage.bytes_read,
        "requests_per_target": _per_target(storage.total, launched),
    }


def _by_target_id(pair: tuple[TargetResult, Judgement]) -> str:
    return pair[0].target.id


def _verdict_counts(judgements: Iterable[Judgement]) -> dict[str, int]:
    counts = Counter(j.verdict for j in judgements)
    return {v.value: counts[v] for v in Verdict}


def _rollout_dict(report: RunReport) -> dict[str, Any] | None:
    """Batches in order (target ids, whether they ran), gate verdicts and the error budget."""
    record = report.rollout
    if record is None:
        return None
    return {
        "order": record.order,
        "batches": [
            {
                "index": b.index,
                "group": b.group,
                "started": b.started,
                "targets": list(b.target_ids),
            }
            for b in record.batches
        ],
        "gates": [
            {
                "gate": g.gate,
                "batch": g.batch,
                "passed": g.passed,
                "reason": g.reason,
                "targets": list(g.target_ids),
            }
            for g in record.gates
        ],
        "error_budget": {
            "max_errors": record.max_errors,
            "failures": record.script_failures,
            "platform_failures": record.platform_failures,
            "count_platform_failures": record.count_platform_failures,
        },
    }


def rollout_from_dict(raw: Mapping[str, Any] | None) -> RolloutRecord | None:
    """The report's ``rollout`` section back as a record (``fleet show`` prints it as
    ``fleet run`` did, and a continued run keeps the gate verdicts it had)."""
    if not raw:
        return None
    budget = raw.get("error_budget") or {}
    return RolloutRecord(
        order=str(raw.get("order") or ""),
        batches=tuple(
            BatchRecord(b["index"], b.get("group"), tuple(b.get("targets") or ()), b["started"])
            for b in raw.get("batches") or ()
        ),
        gates=tuple(
            GateRecord(g["gate"], g["batch"], g["passed"], g["reason"], tuple(g["targets"]))
            for g in raw.get("gates") or ()
        ),
        max_errors=budget.get("max_errors"),
        script_failures=int(budget.get("failures") or 0),
        platform_failures=int(budget.get("platform_failures") or 0),
        count_platform_failures=bool(budget.get("count_platform_failures")),
    )


def json_text(document: Mapping[str, Any]) -> str:
    """The report document as ``--report`` writes it: indented, UTF-8 text, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_report(
    path: Path,
    report: RunReport,
    *,
    secrets: Secrets = NO_SECRETS,
    groups: Sequence[OutputGroup] | None = None,
) -> None:
    """Write the JSON report to ``path`` (``ReportWriteError`` if it cannot be written)."""
    # Serialise first: a bug in the data must not leave a temporary file behind either.
    document = report_to_dict(report, secrets=secrets, groups=groups)
    write_atomic(Path(path), json_text(document).encode("utf-8"))


def exit_code_for(report: RunReport, *, strict: bool = False) -> int:
    """0 every target passed (or was skipped, unless ``strict``), 1 some failed, 3 the run did
    not complete. Pass and fail are the job's verdicts (``expect:``); without expectations a
    target passes when it Succeeded."""
    if report.ended != "completed":
        return 3
    ok = {Verdict.PASS} if strict else {Verdict.PASS, Verdict.SKIP}
    return 0 if all(j.verdict in ok for j in report.judgements()) else 1

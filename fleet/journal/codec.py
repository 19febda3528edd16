"""Rows ↔ records: timestamps as ISO 8601 UTC text, targets as columns, final results as JSON.

Pure functions; the only place that knows both the table layout and the model types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fleet.journal.records import JournalTarget, RunRecord, State, Transition
from fleet.journal.rollout import Kind, RolloutEvent
from fleet.model import (
    CallError,
    Deleted,
    DeleteReason,
    FullOutput,
    MachineView,
    RebootOutcome,
    RebootRecord,
    Status,
    Target,
    TargetKind,
    TargetResult,
)

TARGET_COLUMNS = (
    "run_id, target_id, ord, batch, name, kind, subscription, resource_group, location, "
    "zone, os, power_state, scale_set, instance_id, fault_domain, tags_json"
)
RUN_COLUMNS = (
    "run_id, job, source, spec_json, spec_hash, script_hash, who, started_at, ended_at, "
    "ended, target_count, summary_json, report_json IS NOT NULL, resumes, recipe_json"
)


def iso(moment: datetime) -> str:
    """UTC with microseconds, so text order is time order; naive datetimes are taken as UTC."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def target_row(run_id: str, order: int, batch: int, t: Target) -> tuple[Any, ...]:
    return (
        run_id,
        t.id,
        order,
        batch,
        t.name,
        t.kind.value,
        t.subscription,
        t.resource_group,
        t.location,
        t.zone,
        t.os,
        t.power_state,
        t.scale_set,
        t.instance_id,
        t.fault_domain,
        dumps([list(pair) for pair in t.tags]),
    )


def target_from_row(row: Sequence[Any]) -> JournalTarget:
    (_run, tid, order, batch, name, kind, sub, rg, loc, zone, os_, power, ss, inst, fd, tags) = row
    target = Target(
        id=tid,
        name=name,
        kind=TargetKind(kind),
        subscription=sub,
        resource_group=rg,
        location=loc,
        zone=zone,
        os=os_,
        power_state=power,
        scale_set=ss,
        instance_id=inst,
        fault_domain=fd,
        tags=tuple((k, v) for k, v in json.loads(tags)),
    )
    return JournalTarget(target=target, batch=batch, order=order)


def transition_from_row(row: Sequence[Any]) -> Transition:
    run_id, seq, target_id, at, state, detail = row
    when = parse_iso(at)
    assert when is not None  # NOT NULL column
    return Transition(run_id, seq, target_id, when, State(state), json.loads(detail))


def rollout_event_from_row(row: Sequence[Any]) -> RolloutEvent:
    run_id, seq, at, kind, batch, detail = row
    when = parse_iso(at)
    assert when is not None  # NOT NULL column
    return RolloutEvent(run_id, seq, when, Kind(kind), batch, json.loads(detail))


def run_from_row(row: Sequence[Any], ended: str) -> RunRecord:
    (run_id, job, source, spec, shash, chash, who, started, ended_at, _ended, count, summary,
     has_report, resumes, recipe) = row  # fmt: skip
    started_at = parse_iso(started)
    assert started_at is not None  # NOT NULL column
    return RunRecord(
        run_id=run_id,
        job=job,
        source=source,
        spec=json.loads(spec),
        spec_hash=shash,
        script_hash=chash,
        who=who,
        started_at=started_at,
        ended_at=parse_iso(ended_at),
        ended=ended,
        target_count=count,
        summary=loads(summary),
        has_report=bool(has_report),
        resumes=resumes,
        recipe=loads(recipe),
    )


def final_detail(r: TargetResult) -> dict[str, Any]:
    return {
        "status": r.status.value,
        "reason": r.reason,
        "exit_code": r.exit_code,
        "execution_state": r.execution_state,
        "output": r.output,
        "error": r.error,
        "started_at": iso(r.started_at) if r.started_at else None,
        "ended_at": iso(r.ended_at) if r.ended_at else None,
        "attempts": r.attempts,
        "polls": r.polls,
        "deleted": [[d.run_command, d.reason.value, d.error] for d in r.deleted],
        "full_output": None if r.full_output is None else r.full_output.to_json(),
        "reboot": None if r.reboot is None else reboot_detail(r.reboot),
    }


def put_failed_detail(error: CallError | str, arrived: bool | None) -> dict[str, Any]:
    """A PUT that did not succeed. ``arrived``: False when Azure proved it never arrived
    (refused, throttled, conflict), None when its fate is unknown. For a CallError the
    default is derived: transient (no response, 5xx, 408) → unknown, else refused."""
    if not isinstance(error, CallError):
        return {"message": error, "arrived": arrived}
    if arrived is None and not error.transient:
        arrived = False
    return {
        "status": error.status,
        "code": error.code,
        "message": error.message,
        "arrived": arrived,
    }


def reboot_failed_detail(error: CallError, arrived: bool | None) -> dict[str, Any]:
    """A restart that was not accepted: refused or proven lost (``arrived`` False), or of
    unknown fate (None)."""
    return {
        "status": error.status,
        "code": error.code,
        "message": error.message,
        "arrived": arrived,
    }


def reboot_detail(rec: RebootRecord) -> dict[str, Any]:
    return {
        "required": rec.required,
        "outcome": rec.outcome.value,
        "requested": rec.requested,
        "requested_at": iso(rec.requested_at) if rec.requested_at else None,
        "ready_at": iso(rec.ready_at) if rec.ready_at else None,
        "seconds_to_ready": rec.seconds_to_ready,
        "detail": rec.detail,
        "restarts": rec.restarts,
        "reads": rec.reads,
    }


def reboot_from_detail(d: Mapping[str, Any] | None) -> RebootRecord | None:
    if not d:
        return None
    return RebootRecord(
        required=str(d.get("required") or ""),
        outcome=RebootOutcome(d.get("outcome") or RebootOutcome.UNKNOWN.value),
        requested=d.get("requested"),
        requested_at=parse_iso(d.get("requested_at")),
        ready_at=parse_iso(d.get("ready_at")),
        seconds_to_ready=d.get("seconds_to_ready"),
        detail=d.get("detail"),
        restarts=int(d.get("restarts") or 0),
        reads=int(d.get("reads") or 0),
    )


def view_detail(view: MachineView) -> dict[str, Any]:
    """A VM's instance view as an INTENT_REBOOT records it (the reading before the restart)."""
    return {
        "power_state": view.power_state,
        "provisioning_state": view.provisioning_state,
        "provisioned_at": iso(view.provisioned_at) if view.provisioned_at else None,
        "agent": view.agent,
    }


def view_from_detail(d: Mapping[str, Any]) -> MachineView:
    return MachineView(
        power_state=d.get("power_state"),
        provisioning_state=d.get("provisioning_state"),
        provisioned_at=parse_iso(d.get("provisioned_at")),
        agent=d.get("agent"),
    )


def result_from_final(target: Target, d: Mapping[str, Any]) -> TargetResult:
    return TargetResult(
        target=target,
        status=Status(d["status"]),
        reason=d.get("reason"),
        exit_code=d.get("exit_code"),
        output=d.get("output") or "",
        error=d.get("error") or "",
        execution_state=d.get("execution_state"),
        started_at=parse_iso(d.get("started_at")),
        ended_at=parse_iso(d.get("ended_at")),
        attempts=d.get("attempts", 0),
        polls=d.get("polls", 0),
        deleted=tuple(
            Deleted(name, DeleteReason(reason), error)
            for name, reason, error in d.get("deleted", ())
        ),
        full_output=FullOutput.from_json(d["full_output"]) if d.get("full_output") else None,
        reboot=reboot_from_detail(d.get("reboot")),
    )

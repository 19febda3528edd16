"""JSON forms of what travels between the client, the run workflow and the activities: targets,
results, the plan, the rollout policy (without its scripts), gate records, ARM counters and the
report. Pure functions; each ``x_to_json`` has its ``x_from_json``, and a value survives the
round trip unchanged (tests/temporal/test_codec.py).

Scripts and secrets are not here: activities build the job from its ``PortableJob``; the
workflow only needs the policy (batches are already cut, gates are judged by their expectations).
Per-target outcomes use the journal's form (``fleet.journal.codec.final_detail``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fleet.journal.codec import final_detail, iso, parse_iso, result_from_final
from fleet.journal.spec_record import expect_from_dict, expect_to_dict
from fleet.model import (
    Amount,
    ArmCounters,
    Batch,
    BatchRecord,
    Cleanup,
    Concurrency,
    GateRecord,
    HealthGate,
    JobSpec,
    Order,
    RolloutPlan,
    RolloutPolicy,
    RolloutRecord,
    RunPlan,
    RunReport,
    ScriptIdentity,
    ScriptSpec,
    Selector,
    SourceKind,
    Target,
    TargetKind,
    TargetResult,
)

Json = dict[str, Any]


def target_to_json(t: Target) -> Json:
    return {
        "id": t.id, "name": t.name, "kind": t.kind.value, "subscription": t.subscription,
        "resource_group": t.resource_group, "location": t.location, "zone": t.zone, "os": t.os,
        "power_state": t.power_state, "scale_set": t.scale_set, "instance_id": t.instance_id,
        "fault_domain": t.fault_domain, "tags": [list(pair) for pair in t.tags],
    }  # fmt: skip


def target_from_json(raw: Mapping[str, Any]) -> Target:
    return Target(
        id=raw["id"], name=raw["name"], kind=TargetKind(raw["kind"]),
        subscription=raw["subscription"], resource_group=raw["resource_group"],
        location=raw["location"], zone=raw.get("zone"), os=raw.get("os"),
        power_state=raw.get("power_state"), scale_set=raw.get("scale_set"),
        instance_id=raw.get("instance_id"), fault_domain=raw.get("fault_domain"),
        tags=tuple((k, v) for k, v in raw.get("tags") or ()),
    )  # fmt: skip


def result_to_json(r: TargetResult) -> Json:
    return {"target": target_to_json(r.target), **final_detail(r)}


def result_from_json(raw: Mapping[str, Any]) -> TargetResult:
    return result_from_final(target_from_json(raw["target"]), raw)


def results_to_json(results: Sequence[TargetResult]) -> list[Json]:
    return [result_to_json(r) for r in results]


def results_from_json(raw: Sequence[Mapping[str, Any]]) -> list[TargetResult]:
    return [result_from_json(r) for r in raw]


def _amount(a: Amount | None) -> Json | None:
    return None if a is None else {"count": a.count, "percent": a.percent}


def _amount_from(raw: Mapping[str, Any] | None) -> Amount | None:
    return None if raw is None else Amount(raw.get("count"), raw.get("percent"))


def _gate_to_json(g: HealthGate) -> Json:
    return {
        "name": g.name, "expect_exit_code": g.expect_exit_code,
        "expect_output": g.expect_output, "sentinels": list(g.sentinels),
    }  # fmt: skip


def _gate_from_json(raw: Mapping[str, Any]) -> HealthGate:
    return HealthGate(
        raw["name"], ScriptSpec(None), raw["expect_exit_code"], raw.get("expect_output"),
        tuple(raw.get("sentinels") or ()),
    )  # fmt: skip


def policy_to_json(p: RolloutPolicy) -> Json:
    return {
        "batches": [_amount(a) for a in p.batches], "order": p.order.value, "seed": p.seed,
        "max_errors": _amount(p.max_errors), "count_platform_failures": p.count_platform_failures,
        "pause_s": p.pause_s, "gates": [_gate_to_json(g) for g in p.gates],
        "deadline_s": p.deadline_s, "cancel_grace_s": p.cancel_grace_s,
        "cancel_running": p.cancel_running, "confirm_over": p.confirm_over,
        "cleanup": p.cleanup.value, "pending_timeout_s": p.pending_timeout_s,
    }  # fmt: skip


def policy_from_json(raw: Mapping[str, Any]) -> RolloutPolicy:
    """The policy; its gates' scripts are placeholders (the workflow judges, workers run)."""
    return RolloutPolicy(
        batches=tuple(_amount_from(a) or Amount(1) for a in raw["batches"]),
        order=Order(raw["order"]), seed=raw["seed"], max_errors=_amount_from(raw["max_errors"]),
        count_platform_failures=raw["count_platform_failures"], pause_s=raw["pause_s"],
        gates=tuple(_gate_from_json(g) for g in raw["gates"]), deadline_s=raw["deadline_s"],
        cancel_grace_s=raw["cancel_grace_s"], cancel_running=raw["cancel_running"],
        confirm_over=raw["confirm_over"], cleanup=Cleanup(raw["cleanup"]),
        pending_timeout_s=raw["pending_timeout_s"],
    )  # fmt: skip


def spec_to_json(spec: JobSpec) -> Json:
    """What the workflow needs of a job: its name, concurrency, rollout policy, expectations."""
    return {
        "name": spec.name,
        "concurrency": {"count": spec.concurrency.count, "percent": spec.concurrency.percent},
        "rollout": policy_to_json(spec.rollout),
        "expect": expect_to_dict(spec.expect),
    }


def spec_from_json(raw: Mapping[str, Any]) -> JobSpec:
    """The job as the workflow knows it: no selector and no script (workers have both)."""
    c = raw["concurrency"]
    return JobSpec(
        name=raw["name"], selector=Selector(), script=ScriptSpec(None),
        concurrency=Concurrency(c.get("count"), c.get("percent")),
        rollout=policy_from_json(raw["rollout"]), expect=expect_from_dict(raw["expect"]),
    )  # fmt: skip


def rollout_plan_to_json(plan: RolloutPlan) -> Json:
    batches = [
        {"index": b.index, "group": b.group, "targets": [t.id for t in b.targets]}
        for b in plan.batches
    ]
    return {"order": plan.order.value, "batches": batches}


def rollout_plan_from_json(raw: Mapping[str, Any], targets: Mapping[str, Target]) -> RolloutPlan:
    """``targets``: by id, every target a batch may name."""
    batches = tuple(
        Batch(b["index"], b.get("group"), tuple(targets[i] for i in b["targets"]))
        for b in raw["batches"]
    )
    return RolloutPlan(Order(raw["order"]), batches)


def arm_to_json(a: ArmCounters) -> Json:
    return {
        "requests": dict(a.requests), "throttled": a.throttled,
        "throttle_wait_s": a.throttle_wait_s, "retries": a.retries,
    }  # fmt: skip


def arm_from_json(raw: Mapping[str, Any] | None) -> ArmCounters:
    raw = raw or {}
    return ArmCounters(
        requests={k: int(v) for k, v in (raw.get("requests") or {}).items()},
        throttled=int(raw.get("throttled") or 0),
        throttle_wait_s=float(raw.get("throttle_wait_s") or 0.0),
        retries=int(raw.get("retries") or 0),
    )


def arm_sum(a: ArmCounters, b: ArmCounters) -> ArmCounters:
    kinds = sorted(set(a.requests) | set(b.requests))
    return ArmCounters(
        requests={k: a.requests.get(k, 0) + b.requests.get(k, 0) for k in kinds},
        throttled=a.throttled + b.throttled,
        throttle_wait_s=a.throttle_wait_s + b.throttle_wait_s,
        retries=a.retries + b.retries,
    )


def gate_record_to_json(g: GateRecord) -> Json:
    return {
        "gate": g.gate, "batch": g.batch, "passed": g.passed, "reason": g.reason,
        "target_ids": list(g.target_ids),
    }  # fmt: skip


def gate_record_from_json(raw: Mapping[str, Any]) -> GateRecord:
    return GateRecord(
        raw["gate"], raw["batch"], raw["passed"], raw["reason"], tuple(raw["target_ids"])
    )


def _record_to_json(r: RolloutRecord) -> Json:
    return {
        "order": r.order,
        "batches": [
            {"index": b.index, "group": b.group, "targets": list(b.target_ids),
             "started": b.started}
            for b in r.batches
        ],
        "gates": [gate_record_to_json(g) for g in r.gates],
        "max_errors": r.max_errors, "script_failures": r.script_failures,
        "platform_failures": r.platform_failures,
        "count_platform_failures": r.count_platform_failures,
    }  # fmt: skip


def _record_from_json(raw: Mapping[str, Any]) -> RolloutRecord:
    return RolloutRecord(
        order=raw["order"],
        batches=tuple(
            BatchRecord(b["index"], b.get("group"), tuple(b["targets"]), b["started"])
            for b in raw["batches"]
        ),
        gates=tuple(gate_record_from_json(g) for g in raw["gates"]),
        max_errors=raw.get("max_errors"), script_failures=raw["script_failures"],
        platform_failures=raw["platform_failures"],
        count_platform_failures=raw["count_platform_failures"],
    )  # fmt: skip


def report_to_json(r: RunReport) -> Json:
    return {
        "run_id": r.run_id, "job": r.job, "started_at": iso(r.started_at),
        "finished_at": iso(r.finished_at), "results": results_to_json(r.results),
        "arm": arm_to_json(r.arm), "ended": r.ended, "ended_detail": r.ended_detail,
        "rollout": None if r.rollout is None else _record_to_json(r.rollout),
        "expect": expect_to_dict(r.expect), "cleanup": r.cleanup, "reboot": r.reboot,
        "simulated": r.simulated, "script": scripts_to_json(r.script),
    }  # fmt: skip


def report_from_json(raw: Mapping[str, Any]) -> RunReport:
    started, finished = parse_iso(raw["started_at"]), parse_iso(raw["finished_at"])
    assert started is not None and finished is not None  # written by report_to_json
    rollout = raw.get("rollout")
    return RunReport(
        run_id=raw["run_id"], job=raw["job"], started_at=started, finished_at=finished,
        results=tuple(results_from_json(raw["results"])), arm=arm_from_json(raw["arm"]),
        ended=raw["ended"], ended_detail=raw.get("ended_detail"),
        rollout=None if rollout is None else _record_from_json(rollout),
        expect=expect_from_dict(raw.get("expect")), cleanup=raw.get("cleanup") or "keep-last",
        reboot=raw.get("reboot") or "never", simulated=bool(raw.get("simulated")),
        script=scripts_from_json(raw.get("script") or []),
    )  # fmt: skip


def scripts_to_json(scripts: Sequence[ScriptIdentity]) -> list[Json]:
    """What the report says was sent, per OS variant (hashes and command ids, no text)."""
    return [
        {"variant": s.variant, "kind": s.kind.value, "sha256": s.sha256, "command_id": s.command_id}
        for s in scripts
    ]


def scripts_from_json(raw: Sequence[Mapping[str, Any]]) -> tuple[ScriptIdentity, ...]:
    return tuple(
        ScriptIdentity(s["variant"], SourceKind(s["kind"]), s.get("sha256"), s.get("command_id"))
        for s in raw
    )


def plan_to_json(plan: RunPlan) -> Json:
    """The plan, each target once (batches and sentinels name them by id)."""
    known = {t.id: t for t in (*plan.selected, *plan.sentinels)}
    return {
        "run_id": plan.run_id,
        "spec": spec_to_json(plan.spec),
        "targets": [target_to_json(t) for t in known.values()],
        "selected": [t.id for t in plan.selected],
        "skipped": [{"target": r.target.id, **final_detail(r)} for r in plan.skipped],
        "rollout": rollout_plan_to_json(plan.rollout),
        "sentinels": [t.id for t in plan.sentinels],
        "script": scripts_to_json(plan.spec.script.identities()),  # for the report
    }


def plan_from_json(raw: Mapping[str, Any]) -> RunPlan:
    """The plan with the workflow's view of its job (``spec_from_json``: no script)."""
    targets = {t["id"]: target_from_json(t) for t in raw["targets"]}
    return RunPlan(
        run_id=raw["run_id"],
        spec=spec_from_json(raw["spec"]),
        selected=tuple(targets[i] for i in raw["selected"]),
        skipped=tuple(result_from_final(targets[r["target"]], r) for r in raw["skipped"]),
        rollout=rollout_plan_from_json(raw["rollout"], targets),
        sentinels=tuple(targets[i] for i in raw["sentinels"]),
    )


def run_memo(plan: RunPlan) -> Json:
    """What a run workflow's memo says from the start (``ended`` and ``summary`` come at its
    end): enough for ``fleet runs`` and for a client that attaches later."""
    policy = plan.spec.rollout
    return {
        "job": plan.spec.name, "run_id": plan.run_id, "targets": len(plan.selected),
        "cancel_running": policy.cancel_running, "cancel_grace_s": policy.cancel_grace_s,
    }  # fmt: skip

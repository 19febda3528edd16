"""What ``fleet targets``, ``plan``, ``run`` and ``show`` print on stdout, in each ``-o`` format
(``fleet.cli.output``): the rows and documents, from ``fleet.model`` objects. Rendering only.

tsv columns (no header, as ``az -o tsv``):

- targets: name, kind, subscription, resource group, location, zone, os, power state, id
- plan:    batch (0 = skipped), name, zone, fault domain, location, os, planned|skipped,
           reason, id
- run/show: name, status, exit code, reason, resource group, subscription, reboot (what became
           of the reboot the script asked for: done, timed-out, ...; empty: none asked),
           reboot seconds (until the VM was back; empty: not back or none), id
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console

from fleet.api.estimate import batch_estimates, estimate
from fleet.cli.output import (
    Column,
    print_json,
    print_json_or_tsv,
    print_table,
    print_tsv,
    stdout_console,
)
from fleet.cli.rollout_view import plan_table, render_ending
from fleet.model import JobSpec, RebootRecord, RunPlan, RunReport, Target
from fleet.report.groups import OutputGroup
from fleet.report.json_report import report_to_dict, target_fields
from fleet.report.render import plural, render_summary

TARGET_COLUMNS = (
    Column("name"), Column("kind", 4), Column("subscription", 5), Column("resource group", 2),
    Column("location", 3), Column("zone", 2), Column("os", 1), Column("power"),
)  # fmt: skip


def target_json(t: Target) -> dict[str, Any]:
    return {
        **target_fields(t),
        "power_state": t.power_state,
        "scale_set": t.scale_set,
        "fault_domain": t.fault_domain,
        "tags": dict(t.tags),
    }


def _target_row(t: Target) -> list[Any]:
    return [
        t.name, t.kind.value, t.subscription, t.resource_group, t.location, t.zone or "-",
        t.os or "?", t.power_state or "?",
    ]  # fmt: skip


def show_targets(found: Sequence[Target], skipped: set[str], fmt: str) -> None:
    """``fleet targets``: every selected target; those that would be skipped in yellow."""
    tsv = ([*_target_row(t), t.id] for t in found)
    if not print_json_or_tsv(fmt, [target_json(t) for t in found], tsv):
        styles = ["yellow" if t.id.lower() in skipped else None for t in found]
        rows = [_target_row(t) for t in found]
        print_table(TARGET_COLUMNS, rows, title=plural(len(found)), styles=styles)


def _planned_target(t: Target, batch: int, reason: str | None) -> dict[str, Any]:
    return {**target_json(t), "batch": batch, "skipped": batch == 0, "reason": reason}


def plan_document(plan: RunPlan) -> dict[str, Any]:
    """``fleet plan -o json``: targets with their batch (0 = skipped, with the reason),
    batches with their ETAs (``expected_s``: from the job's history, null without one), and
    the estimate of the whole launch."""
    batch_of = {t.id: b.index for b in plan.rollout.batches for t in b.targets}
    skipped = {r.target.id: r.reason for r in plan.skipped}
    est = estimate(plan.targets)
    batches = []
    etas = batch_estimates(plan.spec, plan.rollout, forecast=plan.forecast)
    for b, eta in zip(plan.rollout.batches, etas, strict=True):
        expected = None if eta.expected_s is None else round(eta.expected_s, 1)
        batches.append(
            {"index": b.index, "group": b.group, "targets": [t.name for t in b.targets],
             "launch_s": round(eta.launch_s, 1), "done_by_s": round(eta.done_by_s, 1),
             "expected_s": expected}
        )  # fmt: skip
    return {
        "job": plan.spec.name,
        "targets": [
            _planned_target(t, batch_of.get(t.id, 0), skipped.get(t.id)) for t in plan.selected
        ],
        "batches": batches,
        "estimate": {
            "launch_s": round(est.launch_s, 1),
            "binding": est.binding,
            "writes": est.writes,
            "reads": est.reads,
            "restarts_at_most": len(plan.targets) if plan.spec.rollout.reboot.enabled else 0,
        },
    }


def show_plan(plan: RunPlan, fmt: str) -> None:
    """``fleet plan``: the targets, the batches, the estimate."""
    if fmt == "json":
        print_json(plan_document(plan))
        return
    if fmt == "tsv":
        rows = []
        for t in plan_document(plan)["targets"]:
            state = "skipped" if t["skipped"] else "planned"
            rows.append([t["batch"], t["name"], t["zone"], t["fault_domain"], t["location"],
                         t["os"], state, t["reason"], t["id"]])  # fmt: skip
        print_tsv(rows)
        return
    console = stdout_console()
    skipped = {r.target.id.lower() for r in plan.skipped}
    show_targets(plan.selected, skipped, "table")
    console.print(plan_table(plan))
    est = estimate(plan.targets)
    console.print(
        f"[bold]{len(plan.targets)}[/] to run, [bold]{len(plan.skipped)}[/] skipped "
        "(not running, or no script for their OS).\n"
        f"Launching every run command takes about [bold]{est.launch_text}[/] "
        f"(bound: {est.binding}), plus the script's own run time.\n"
        f"ARM requests: about {est.writes} writes and {est.reads} reads"
        f"{_reboot_cost(plan.spec, len(plan.targets))}."
    )


def _reboot_cost(spec: JobSpec, targets: int) -> str:
    """What reboots may add to the estimate: one write per restarted VM and a few reads."""
    if not spec.rollout.reboot.enabled or not targets:
        return ""
    return f", plus up to {targets} restarts (a write each, and a few reads per VM) for reboots"


def _reboot_cells(record: RebootRecord | None) -> list[Any]:
    """The reboot columns: its outcome and the seconds until the VM was back (empty: none)."""
    if record is None:
        return [None, None]
    seconds = record.seconds_to_ready
    return [record.outcome.value, None if seconds is None else f"{seconds:g}"]


def report_rows(report: RunReport) -> list[list[Any]]:
    return [
        [r.target.name, r.status.value, r.exit_code, " ".join((r.reason or "").split()),
         r.target.resource_group, r.target.subscription, *_reboot_cells(r.reboot), r.target.id]
        for r in report.results
    ]  # fmt: skip


def show_report(report: RunReport, groups: Sequence[OutputGroup], fmt: str) -> None:
    """``fleet run`` and ``fleet show``: the summary, the output groups and how the run ended
    (table); the report document (json); one row per target (tsv)."""
    if fmt == "json":
        print_json(report_to_dict(report, groups=groups))
    elif fmt == "tsv":
        print_tsv(report_rows(report))
    else:
        console: Console = stdout_console()
        render_summary(console, report, groups=groups)
        render_ending(console, report)

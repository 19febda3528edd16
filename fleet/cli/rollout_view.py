"""Showing a rollout plan (``fleet plan``, the confirmation prompt) and asking to go ahead.

Rendering and the prompt only: the plan comes from ``fleet.api.prepare``, the ETAs from
``fleet.api.estimate.batch_estimates``.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fleet.api.estimate import batch_estimates
from fleet.api.resume import CONTINUABLE
from fleet.errors import SpecError
from fleet.model import Mode, RebootPolicy, RunPlan, RunReport, Target
from fleet.report.render import plural


def _where(t: Target) -> str:
    """``web-001(z1/fd0)``: name, zone and fault domain ("-" when unknown) as one word — a
    narrow table wraps between targets, never between a name and its zone (rich breaks at any
    whitespace, a no-break space too: "vmss-api_18" / "z1/fd1, vmss-api_3" read as a pair)."""
    zone = f"z{t.zone}" if t.zone is not None else "-"
    fd = f"fd{t.fault_domain}" if t.fault_domain is not None else "-"
    return f"{t.name}({zone}/{fd})"


def _names(targets: tuple[Target, ...], limit: int | None) -> str:
    shown = [_where(t) for t in (targets if limit is None else targets[:limit])]
    rest = len(targets) - len(shown)
    return ", ".join(shown) + (f", … and {rest} more" if rest else "")


def plan_table(run: RunPlan, *, names_per_batch: int | None = None) -> Table:
    """Batches in order: group (zone / fault domain), size, targets with zone and fault
    domain, and the per-batch ETA (launch time, worst-case done-by) from the throttle model."""
    spec, plan = run.spec, run.rollout
    policy = spec.rollout
    title = f"{len(plan.targets)} targets in {len(plan.batches)} batches, order {plan.order.value}"
    if spec.mode is Mode.ACTION:
        title += " · mode action (one command at a time per VM; a running one cannot be stopped)"
    table = Table(title=title, show_lines=True)
    for column in ("batch", "group", "size", "targets (zone/fault domain)", "launch", "done by ≤"):
        table.add_column(column, overflow="fold")
    for batch, eta in zip(plan.batches, batch_estimates(spec, plan), strict=True):
        label = f"{batch.index}" + (
            " (canary)" if batch.index == 1 and len(plan.batches) > 1 else ""
        )
        table.add_row(
            label, batch.group or "-", str(len(batch.targets)),
            _names(batch.targets, names_per_batch), eta.launch_text, eta.done_by_text,
        )  # fmt: skip
    budget = "none" if policy.max_errors is None else str(policy.max_errors)
    gates = ", ".join(g.name for g in policy.gates) or "none"
    table.caption = (
        f"max concurrency {spec.concurrency.resolve(len(plan.targets) or 1)} · max errors "
        f"{budget} · pause {policy.pause_s} s · gates {gates} · deadline "
        f"{policy.deadline_s if policy.deadline_s is not None else 'none'}"
        f"{' s' if policy.deadline_s is not None else ''} · reboot {reboot_text(policy.reboot)}. "
        "'done by' assumes every script runs to its timeout"
        f"{' and every VM takes its reboot_timeout' if policy.reboot.enabled else ''}."
    )
    return table


def reboot_text(policy: RebootPolicy) -> str:
    """``if-required (exit codes 100; output matching 'X'), up to 900 s`` / ``never``."""
    if not policy.enabled:
        return policy.mode.value
    how = []
    if policy.exit_codes:
        how.append("exit code" + ("s " if len(policy.exit_codes) > 1 else " "))
        how[-1] += ", ".join(str(c) for c in policy.exit_codes)
    if policy.marker is not None:
        how.append(f"output matching {policy.marker!r}")
    shown = f" ({'; '.join(how)})" if how and policy.mode.value == "if-required" else ""
    return f"{policy.mode.value}{shown}, waiting up to {policy.timeout_s} s"


def confirm_run(
    console: Console,
    plan: RunPlan,
    *,
    yes: bool,
    interactive: bool,
    ask: Callable[[str], str],
) -> None:
    """Ask before running on more than ``rollout.confirm_over`` targets; raise ``SpecError``
    (exit 2, nothing sent) when the answer is no or nobody can answer (not a terminal)."""
    spec, count = plan.spec, len(plan.targets)
    if yes or count <= spec.rollout.confirm_over:
        return
    if not interactive:
        message = (
            f"refusing to run {spec.name!r} on {count} targets without confirmation (more than "
            f"{spec.rollout.confirm_over}) and this is not a terminal — pass --yes to confirm, "
            "or raise --confirm-over / rollout.confirm_over"
        )
        raise SpecError(message)
    console.print(plan_table(plan, names_per_batch=6))
    if plan.skipped:
        console.print(
            f"{len(plan.skipped)} selected targets are skipped (not running, or no script for "
            "their OS)."
        )
    try:
        answer = ask(f"Run {spec.name!r} on {count} targets? \\[y/N] ")  # \\[: not rich markup
    except EOFError:  # Ctrl-D, or stdin closed: no is the answer
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise SpecError("not confirmed; nothing was run")


def render_ending(console: Console, report: RunReport) -> None:
    """What the rollout got through (batches, gate verdicts, the error budget) and how the run
    ended when it did not simply complete — the same for ``fleet run`` and ``fleet show``."""
    record = report.rollout
    if record is not None and len(record.batches) > 1:
        ran = sum(b.started for b in record.batches)
        console.print(
            f"Rollout: {ran} of {len(record.batches)} batches run (order {record.order}).",
            highlight=False,
        )
    for gate in record.gates if record is not None else ():
        verdict = "passed" if gate.passed else f"[bold red]FAILED[/]: {escape(gate.reason)}"
        console.print(
            f"Gate {escape(gate.gate)} after batch {gate.batch} on {plural(len(gate.target_ids))}: "
            f"{verdict}",
            highlight=False,
        )
    if record is not None and record.max_errors is not None:
        console.print(
            f"Error budget: {plural(record.script_failures, 'failure')}, "
            f"{plural(record.platform_failures, 'platform failure')}, max_errors "
            f"{record.max_errors}.",
            highlight=False,
        )
    _ended(console, report)


def _ended(console: Console, report: RunReport) -> None:
    run = report.run_id
    if report.ended == "completed":
        return
    if report.ended == "interrupted":
        text = f"Run interrupted (resume with fleet resume {run})"
    elif report.ended == "running":
        text = f"Run still running (fleet show {run} again to follow it)"
    else:
        detail = f": {report.ended_detail}" if report.ended_detail else ""
        text = f"Run {report.ended}{detail}"
        if report.ended in CONTINUABLE and report.simulated:  # its Azure lived in this process
            text += f"\nTo go on after looking: fleet rerun {run} --failed [--exclude NAME]"
        elif report.ended in CONTINUABLE:
            text += f"\nTo go on after looking: fleet resume {run} --continue [--exclude NAME]"
    console.print(f"[bold yellow]{escape(text)}[/]", highlight=False)

"""``fleet clean``: list (dry run, the default) or delete (``--delete``) fleet's own finished run
commands on the targets a job spec or the selection flags select. Parses, wires the backend,
calls ``fleet.api.clean``, renders a table or JSON, and exits with a documented code."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from fleet.api.clean import CleanFilter, CleanPlan, CleanRow, clean, survey
from fleet.api.prepare import require_targets, select
from fleet.cli.config import apply_defaults
from fleet.cli.exits import err_console, fail
from fleet.cli.options import connection_options, selection_options, with_options
from fleet.cli.output import (
    Column,
    FormatOpt,
    OutputOpt,
    fitted_table,
    output_format,
    print_json_or_tsv,
    stdout_console,
)
from fleet.cli.run_cmd import YesOpt, selection_only_spec
from fleet.cli.wiring import configure_logs, open_backend, run_sync
from fleet.errors import FleetError, SpecError
from fleet.model import JobSpec
from fleet.report.json_report import iso, target_fields
from fleet.spec import Connection, parse_age

CLEAN_HELP = """List, or delete, the run commands fleet left on the selected VMs.

Selects targets like `fleet run` (a job spec or the selection flags) and lists every run
command on them: fleet's own that have finished are chosen for deletion (filter with --job and
--older-than); nothing is deleted without --delete. fleet never deletes a run command that is
not its own (no fleet- name with fleet's tags) or one still Pending or Running.

  fleet clean --sim -t env=prod                      # what would go (dry run)

  fleet clean job.yaml --older-than 7d --delete --yes

Output: -o table (default), json, or tsv (a line per run command: target, run command, job,
state, finished, action, target id).

Exit codes: 0 listed, or every chosen run command deleted; 1 some target could not be listed
or some deletion failed; 2 bad input, nothing selected (unless --allow-empty) or not confirmed
(nothing was deleted); 4 Azure could not be reached or refused access.
"""

DeleteOpt = Annotated[
    bool, typer.Option("--delete", help="Delete the chosen run commands (default: dry run).")
]
JobOpt = Annotated[
    str | None,
    typer.Option("--job", help="Only run commands of this fleet job (its fleet-job tag or name)."),
]
OlderThanOpt = Annotated[
    str | None,
    typer.Option("--older-than", help="Only ones that finished longer ago than this, e.g. 7d."),
]
AllOwnersOpt = Annotated[
    bool,
    typer.Option(
        "--all-owners", help="Also list the run commands of other tools and people (never deleted)."
    ),
]


@with_options(selection_options, connection_options)
def clean_command(
    delete: DeleteOpt = False,
    yes: YesOpt = False,
    job: JobOpt = None,
    older_than: OlderThanOpt = None,
    all_owners: AllOwnersOpt = False,
    output: OutputOpt = None,
    output_format_: FormatOpt = None,
    **kw: Any,
) -> None:
    try:
        fmt = output_format(output, output_format_, default=apply_defaults(kw).output)
        what = _filter(job, older_than)
        spec = selection_only_spec(kw)
        configure_logs(kw)
        ask = _asker(yes)
        allow_empty = bool(kw.get("allow_empty"))
        plan = run_sync(_clean, spec, Connection.from_flags(kw), what, delete, ask, allow_empty)
    except FleetError as exc:
        raise fail(exc) from exc
    _show(plan, all_owners, fmt)
    raise typer.Exit(1 if plan.failed else 0)


def _show(plan: CleanPlan, all_owners: bool, fmt: str) -> None:
    document = clean_json(plan, all_owners=all_owners)
    rows = ([*_cells(r, plan.dry_run), r.target.id] for r in _shown(plan, all_owners))
    if not print_json_or_tsv(fmt, document, rows):
        _render(stdout_console(), plan, all_owners=all_owners)


def _filter(job: str | None, older_than: str | None) -> CleanFilter:
    age = None if older_than is None else parse_age(older_than, "--older-than")
    return CleanFilter(job=job, older_than_s=age)


def _asker(yes: bool) -> Any:
    """How to confirm a deletion: not at all (``--yes``), on the terminal, or refuse (exit 2)."""
    if yes:
        return None
    if not (sys.stdin.isatty() and err_console.is_terminal):
        return "refuse"
    return err_console.input


async def _clean(
    spec: JobSpec,
    connection: Connection,
    what: CleanFilter,
    delete: bool,
    ask: Any,
    allow_empty: bool,
) -> CleanPlan:
    async with open_backend(connection) as backend:
        targets = await select(spec, backend)
        if not allow_empty:
            require_targets(spec, targets)
        plan = await survey(backend, targets, what)
        if not delete or not plan.chosen:
            return plan
        _confirm(plan, ask)
        return await clean(backend, plan)


def _confirm(plan: CleanPlan, ask: Any) -> None:
    count, vms = len(plan.chosen), len({r.target.id for r in plan.chosen})
    question = f"Delete {count} of fleet's run commands on {vms} VMs?"
    if ask is None:
        return
    if ask == "refuse":
        message = f"refusing to delete without confirmation ({question}) — pass --yes to confirm"
        raise SpecError(message)
    _render(err_console, plan, all_owners=False, chosen_only=True)
    # Blocks the event loop while the operator reads: nothing is in flight yet.
    answer = ask(f"{question} \\[y/N] ")  # \\[: not rich markup
    if answer.strip().lower() not in ("y", "yes"):
        raise SpecError("not confirmed; nothing was deleted")


def _action(row: CleanRow, dry_run: bool) -> str:
    if row.error is not None:
        return f"failed: {row.error}"
    if row.deleted:
        return "deleted"
    if row.delete:
        return "would delete" if dry_run else "not deleted"
    return f"kept: {row.why}"


def _shown(plan: CleanPlan, all_owners: bool) -> list[CleanRow]:
    return [r for r in plan.rows if all_owners or r.item is None or r.fleets]


def clean_json(plan: CleanPlan, *, all_owners: bool) -> dict[str, Any]:
    rows = [
        {
            **target_fields(r.target),
            "run_command": r.item.name if r.item else None,
            "fleets": r.fleets,
            "job": r.item.job if r.item else None,
            "execution_state": r.item.view.execution_state if r.item else None,
            "finished_at": iso(r.item.finished_at) if r.item else None,
            "chosen": r.delete,
            "deleted": r.deleted,
            "why": r.why,
            "error": r.error,
        }
        for r in _shown(plan, all_owners)
    ]
    return {"dry_run": plan.dry_run, "summary": _summary(plan), "run_commands": rows}


def _summary(plan: CleanPlan) -> dict[str, int]:
    listed = [r for r in plan.rows if r.item is not None]
    return {
        "targets": plan.targets,
        "run_commands": len(listed),
        "fleets": sum(r.fleets for r in listed),
        "others": sum(not r.fleets for r in listed),
        "chosen": len(plan.chosen),
        "deleted": sum(r.deleted for r in plan.rows),
        "failed": len(plan.failed),
    }


CLEAN_COLUMNS = (
    Column("target"), Column("run command"), Column("job", 2), Column("state", 1),
    Column("finished", 3), Column("action", wrap=True),
)  # fmt: skip


def _cells(r: CleanRow, dry_run: bool) -> list[str]:
    item = r.item
    finished = iso(item.finished_at) if item and item.finished_at else "-"
    return [
        r.target.name, item.name if item else "-", (item.job or "-") if item else "-",
        item.view.execution_state if item else "-", finished or "-", _action(r, dry_run),
    ]  # fmt: skip


def _render(
    console: Console, plan: CleanPlan, *, all_owners: bool, chosen_only: bool = False
) -> None:
    rows = plan.chosen if chosen_only else _shown(plan, all_owners)
    title = "fleet clean" + (" (dry run)" if plan.dry_run else "")
    cells = [_cells(r, plan.dry_run) for r in rows]
    console.print(fitted_table(console, CLEAN_COLUMNS, cells, title=title))
    s = _summary(plan)
    hidden = "" if all_owners else " (--all-owners lists them)"
    console.print(
        f"{s['run_commands']} run commands on {s['targets']} targets: {s['fleets']} fleet's, "
        f"{s['others']} of other tools or people, left alone{hidden}. "
        f"{s['chosen']} chosen, {s['deleted']} deleted, {s['failed']} failed.",
        highlight=False,
    )

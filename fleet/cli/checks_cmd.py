"""The history of scheduled checks on the command line (``fleet.history``): ``fleet runs --job
NAME`` (a job's runs with their verdicts and what changed from the run before) and ``fleet diff
RUN_A RUN_B`` (target by target: newly failing, recovered, still failing, new, gone).
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import typer

from fleet.api.history import open_journal
from fleet.cli.config import apply_defaults
from fleet.cli.exits import fail
from fleet.cli.options import journal_options, with_options
from fleet.cli.output import (
    Column,
    FormatOpt,
    OutputOpt,
    output_format,
    print_json_or_tsv,
    print_table,
)
from fleet.errors import FleetError, SpecError
from fleet.history import Change, Comparison, History, TargetChange, TargetVerdict
from fleet.journal import resolve_state_dir
from fleet.journal.paths import db_path

JOB_COLUMNS = (
    Column("run id"), Column("ended"), Column("pass", 0, "right"), Column("fail", 0, "right"),
    Column("skip", 2, "right"), Column("newly failing", 0, "right"),
    Column("recovered", 0, "right"), Column("started", 1),
)  # fmt: skip
DIFF_COLUMNS = (
    Column("change"), Column("target"), Column("before", 1), Column("after"),
    Column("reason", 2, wrap=True), Column("id", 3),
)  # fmt: skip
AllOpt = Annotated[bool, typer.Option("--all", help="List unchanged targets too.")]
_ORDER = [
    Change.NEWLY_FAILING, Change.RECOVERED, Change.STILL_FAILING, Change.NEW, Change.GONE,
    Change.UNCHANGED,
]  # fmt: skip


def _history(kw: dict[str, Any]) -> History | None:
    """The history of the state directory (None: no journal there yet)."""
    if not db_path(resolve_state_dir(kw.get("state_dir"))).exists():
        return None
    return History(open_journal(kw.get("state_dir"), writable=False))


def job_rows(history: History, job: str, limit: int) -> list[dict[str, Any]]:
    """The job's last ``limit`` runs, newest first, with verdict counts and changes."""
    rows = []
    for run in reversed(history.runs(job, limit)):
        counts = history.verdicts(run.run_id).counts
        changes = history.changes(run.run_id)
        rows.append(
            {
                "run_id": run.run_id,
                "job": run.job,
                "started_at": run.started_at.isoformat(),
                "duration_s": run.duration_s,
                "ended": run.ended,
                "targets": run.target_count,
                "verdicts": {"pass": counts.passed, "fail": counts.failed, "skip": counts.skipped},
                "share_passing": counts.share_passing,
                "previous_run_id": None if changes.previous is None else changes.previous.run_id,
                "newly_failing": len(changes.regressions),
                "recovered": len(changes.recovered),
            }
        )
    return rows


def _job_cells(row: dict[str, Any]) -> list[Any]:
    v = row["verdicts"]
    started = row["started_at"][:19].replace("T", " ")
    return [
        row["run_id"], row["ended"], v["pass"], v["fail"], v["skip"], row["newly_failing"],
        row["recovered"], started,
    ]  # fmt: skip


def job_runs(job: str, fmt: str, limit: int, kw: dict[str, Any]) -> None:
    """``fleet runs --job NAME`` (``fmt``: an ``-o`` format already checked).

    tsv columns (no header): run id, started (ISO 8601), ended, pass, fail, skip, newly
    failing, recovered."""
    try:
        history = _history(kw)
        rows = job_rows(history, job, limit) if history is not None else []
    except FleetError as exc:
        raise fail(exc) from exc
    tsv = (
        [r["run_id"], r["started_at"], r["ended"], *r["verdicts"].values(), r["newly_failing"],
         r["recovered"]]
        for r in rows
    )  # fmt: skip
    if not print_json_or_tsv(fmt, rows, tsv):
        title = f"{len(rows)} run{'' if len(rows) == 1 else 's'} of {job}"
        print_table(JOB_COLUMNS, [_job_cells(r) for r in rows], title=title)


def _side(verdict: TargetVerdict | None) -> dict[str, Any] | None:
    if verdict is None:
        return None
    return {
        "verdict": verdict.verdict.value,
        "status": verdict.status.value,
        "reason": verdict.judgement.reason or None,
        "exit_code": verdict.result.exit_code,
        "values": dict(verdict.judgement.values),
    }


def _change_row(change: TargetChange) -> dict[str, Any]:
    either = change.after or change.before
    return {
        "change": change.change.value,
        "name": change.name,
        "id": either.target.id if either is not None else change.key,
        "before": _side(change.before),
        "after": _side(change.after),
    }


def diff_document(comparison: Comparison, *, everything: bool) -> dict[str, Any]:
    counts = Counter(c.change for c in comparison.changes)
    shown = sorted(
        (c for c in comparison.changes if everything or c.change is not Change.UNCHANGED),
        key=lambda c: (_ORDER.index(c.change), c.name),
    )
    previous = comparison.previous
    return {
        "previous_run_id": None if previous is None else previous.run_id,
        "run_id": comparison.current.run_id,
        "counts": {change.value: counts[change] for change in _ORDER},
        "targets": [_change_row(c) for c in shown],
    }


@with_options(journal_options)
def diff(
    run_a: Annotated[str, typer.Argument(help="The earlier run.", show_default=False)],
    run_b: Annotated[str, typer.Argument(help="The later run.", show_default=False)],
    output: OutputOpt = None,
    output_format_: FormatOpt = None,
    everything: AllOpt = False,
    **kw: Any,
) -> None:
    """What changed between two runs, target by target, under each run's expectations:
    newly failing, recovered, still failing, new and gone targets (--all: unchanged too).

    -o tsv: a line per target, no header: change, target, before, after, reason, id."""
    try:
        config = apply_defaults(kw)
        fmt = output_format(output, output_format_, default=config.output)
        history = _history(kw)
        if history is None:
            raise SpecError(f"no fleet journal in {resolve_state_dir(kw.get('state_dir'))}")
        document = diff_document(history.compare(run_a, run_b), everything=everything)
    except FleetError as exc:
        raise fail(exc) from exc
    _print_diff(document, fmt)


def _print_diff(document: dict[str, Any], fmt: str) -> None:
    rows = [
        [
            t["change"], t["name"],
            (t["before"] or {}).get("verdict") or "-", (t["after"] or {}).get("verdict") or "-",
            " ".join(((t["after"] or t["before"] or {}).get("reason") or "").split()), t["id"],
        ]
        for t in document["targets"]
    ]  # fmt: skip
    if print_json_or_tsv(fmt, document, rows):
        return
    counts = ", ".join(f"{n} {k}" for k, n in document["counts"].items() if n)
    title = f"{document['previous_run_id']} → {document['run_id']}: {counts or 'no targets'}"
    print_table(DIFF_COLUMNS, rows, title=title)

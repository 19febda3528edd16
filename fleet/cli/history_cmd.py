"""``fleet runs`` and ``fleet show``: the run journal on the command line, read-only (a run in
flight can be read while it is written). A run whose fleet process died is ``interrupted``:
``fleet resume RUN_ID`` finishes it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fleet.api.history import ended_as_shown, open_journal, report_from_journal
from fleet.cli.config import apply_defaults
from fleet.cli.exits import fail
from fleet.cli.options import journal_options, with_options
from fleet.cli.output import (
    Column,
    FormatOpt,
    OutputOpt,
    fitted_table,
    output_format,
    print_json,
    print_tsv,
    stdout_console,
)
from fleet.cli.views import show_report
from fleet.errors import FleetError
from fleet.journal import resolve_state_dir
from fleet.journal.paths import db_path
from fleet.journal.records import RunRecord
from fleet.report.groups import group_results

RUN_COLUMNS = (
    Column("run id"), Column("job"), Column("ended"), Column("outcomes", wrap=True),
    Column("started", 2), Column("duration", 1, "right"), Column("by", 3),
)  # fmt: skip
INTERRUPTED_NOTE = (
    "interrupted: the fleet process writing the run died — resume with fleet resume RUN_ID"
)


def run_row(record: RunRecord) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "job": record.job,
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat() if record.ended_at else None,
        "duration_s": record.duration_s,
        "ended": ended_as_shown(record.ended),
        "targets": record.target_count,
        "summary": dict(record.summary or {}),
        "who": record.who,
        "resumes": record.resumes,
    }


def _outcomes(row: dict[str, Any]) -> str:
    counts = ", ".join(f"{n} {k}" for k, n in row["summary"].items() if k != "total")
    return counts or "-"


def _cells(row: dict[str, Any]) -> list[Any]:
    duration = "-" if row["duration_s"] is None else f"{row['duration_s']:.0f} s"
    started = row["started_at"][:19].replace("T", " ")
    return [row["run_id"], row["job"], row["ended"], _outcomes(row), started, duration, row["who"]]


@with_options(journal_options)
def runs(
    output: OutputOpt = None,
    output_format_: FormatOpt = None,
    limit: Annotated[int, typer.Option(help="Show at most this many runs.", min=1)] = 50,
    **kw: Any,
) -> None:
    """The run history, newest first: id, job, how it ended, outcomes, start, duration."""
    try:
        config = apply_defaults(kw)
        fmt = output_format(output, output_format_, default=config.output)
        if not db_path(resolve_state_dir(kw.get("state_dir"))).exists():
            records = []  # no journal yet: an empty history, not an error
        else:
            records = open_journal(kw.get("state_dir"), writable=False).runs(limit)
    except FleetError as exc:
        raise fail(exc) from exc
    rows = [run_row(r) for r in records]
    if fmt == "json":
        print_json(rows)
    elif fmt == "tsv":
        print_tsv(_cells(row) for row in rows)
    else:
        console = stdout_console()
        table = fitted_table(
            console, RUN_COLUMNS, [_cells(r) for r in rows], title=f"{len(rows)} runs"
        )
        console.print(table)
        if any(row["ended"] == "interrupted" for row in rows):
            console.print(INTERRUPTED_NOTE, highlight=False)


@with_options(journal_options)
def show(
    run_id: str, output: OutputOpt = None, output_format_: FormatOpt = None, **kw: Any
) -> None:
    """A run's report from the journal, as fleet run printed it.

    -o json: the JSON of fleet run --report; -o tsv: a line per target. A run in flight or
    interrupted shows what is known so far: launched targets without a result are Running."""
    try:
        config = apply_defaults(kw)
        fmt = output_format(output, output_format_, default=config.output)
        journal = open_journal(kw.get("state_dir"), writable=False)
        report = report_from_journal(journal, run_id)
        stored = journal.report_json(run_id)
    except FleetError as exc:
        raise fail(exc) from exc
    if fmt == "json" and stored is not None and report.ended not in ("running", "interrupted"):
        print_json(stored)  # exactly what fleet run --report wrote
        return
    show_report(report, group_results(report.results), fmt)

"""``fleet runs`` and ``fleet show``: the run journal on the command line, read-only (a run in
flight can be read while it is written). A run whose fleet process died is ``interrupted``:
``fleet resume RUN_ID`` finishes it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from fleet.api.history import (
    ended_as_shown,
    open_journal,
    report_from_journal,
    with_outcomes_so_far,
)
from fleet.cli.checks_cmd import job_runs
from fleet.cli.config import apply_defaults
from fleet.cli.exits import err_console, fail
from fleet.cli.options import ReportFormatOpt, journal_options, temporal_options, with_options
from fleet.cli.output import (
    Column,
    FormatOpt,
    OutputOpt,
    output_format,
    print_json,
    print_json_or_tsv,
    print_table,
)
from fleet.cli.show_output import print_output
from fleet.cli.temporal_cmd import require_extra, temporal_report, temporal_runs
from fleet.cli.views import show_report
from fleet.cli.wiring import check_report_path, configure_logs, run_sync
from fleet.errors import FleetError, SpecError
from fleet.journal import resolve_state_dir
from fleet.journal.paths import db_path
from fleet.journal.records import RunRecord
from fleet.report.formats import format_for, parse_format, render, write_document
from fleet.report.groups import group_results
from fleet.report.json_report import report_to_dict
from fleet.report.render import plural

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


JobOpt = Annotated[
    str | None,
    typer.Option(
        "--job",
        help="Only this job's runs, with their verdicts (pass/fail/skip) and what changed "
        "from the run before (newly failing, recovered).",
    ),
]
ShowReportOpt = Annotated[
    Path | None, typer.Option("--report", "-r", help="Write the report (see --report-format).")
]


@with_options(journal_options, temporal_options)
def runs(
    output: OutputOpt = None,
    output_format_: FormatOpt = None,
    limit: Annotated[int, typer.Option(help="Show at most this many runs.", min=1)] = 50,
    job: JobOpt = None,
    **kw: Any,
) -> None:
    """The run history, newest first: id, job, how it ended, outcomes, start, duration.

    With --temporal: the runs on that Temporal server (--job lists one job's runs)."""
    try:
        config = apply_defaults(kw)
        fmt = output_format(output, output_format_, default=config.output)
        if job is not None and not kw.get("temporal"):
            job_runs(job, fmt, limit, kw)
            return
        rows = _run_rows(kw, limit, job)
    except FleetError as exc:
        raise fail(exc) from exc
    _print_runs(rows, fmt)


def _run_rows(kw: dict[str, Any], limit: int, job: str | None) -> list[dict[str, Any]]:
    if kw.get("temporal"):
        require_extra()
        configure_logs({})
        return run_sync(temporal_runs, kw, limit, job)
    if not db_path(resolve_state_dir(kw.get("state_dir"))).exists():
        return []  # no journal yet: an empty history, not an error
    journal = open_journal(kw.get("state_dir"), writable=False)
    return [run_row(with_outcomes_so_far(journal, r)) for r in journal.runs(limit)]


def _print_runs(rows: list[dict[str, Any]], fmt: str) -> None:
    tsv = (  # for scripts: the start in ISO 8601, the duration in seconds
        [*_cells(row)[:4], row["started_at"],
         "" if row["duration_s"] is None else round(row["duration_s"], 1), row["who"]]
        for row in rows
    )  # fmt: skip
    if print_json_or_tsv(fmt, rows, tsv):
        return
    console = print_table(RUN_COLUMNS, [_cells(r) for r in rows], title=plural(len(rows), "run"))
    if any(row["ended"] == "interrupted" for row in rows):
        console.print(INTERRUPTED_NOTE, highlight=False)


TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target",
        help="Print one target's whole output instead (by name or id): stdout to stdout, "
        "stderr to stderr, byte for byte as fleet kept it from the output blobs; only the "
        "last 4 KB for a job without output storage.",
    ),
]


@with_options(journal_options, temporal_options)
def show(
    run_id: str,
    output: OutputOpt = None,
    output_format_: FormatOpt = None,
    report: ShowReportOpt = None,
    report_format: ReportFormatOpt = None,
    target: TargetOpt = None,
    **kw: Any,
) -> None:
    """A run's report from the journal, as fleet run printed it, or one target's full output
    (--target NAME).

    -o json: the JSON of fleet run --report; -o tsv: a line per target. A run in flight or
    interrupted shows what is known so far: launched targets without a result are Running.
    --report PATH writes the report file in --report-format (json, junit, csv, html; else
    as its suffix says: .xml, .csv, .html), as fleet run --report would have; --report-format
    alone prints that report instead. With --temporal: the report of a run that ended on
    that Temporal server."""
    try:
        config = apply_defaults(kw)
        fmt = output_format(output, output_format_, default=config.output)
        file_fmt = parse_format(report_format) if report_format else format_for(report)
        if report is not None:
            check_report_path(report, report_format)
        if kw.get("temporal"):
            if target is not None:
                raise SpecError("--target is not supported with --temporal (no output blobs).")
            require_extra()
            configure_logs({})
            report_obj = run_sync(temporal_report, kw, run_id)
            document = report_to_dict(report_obj)
        else:
            journal = open_journal(kw.get("state_dir"), writable=False)
            report_obj = report_from_journal(journal, run_id)
            if target is not None:
                print_output(report_obj, target)
                return
            live = report_obj.ended in ("running", "interrupted")
            stored = None if live else journal.report_json(run_id)  # what fleet run wrote
            document = stored or report_to_dict(report_obj)
        if report is not None:
            write_document(report, document, file_fmt)
            err_console.print(f"{file_fmt} report written to {report}", highlight=False)
    except FleetError as exc:
        raise fail(exc) from exc
    if report is None and report_format is not None:
        sys.stdout.buffer.write(render(document, file_fmt))
        sys.stdout.flush()
    elif fmt == "json":
        print_json(document)
    else:
        show_report(report_obj, group_results(report_obj.results), fmt)

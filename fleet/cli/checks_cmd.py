"""The history of scheduled checks on the command line (``fleet.history``): ``fleet runs --job
NAME`` (a job's runs with their verdicts and what changed from the run before) and ``fleet diff
RUN_A RUN_B`` (target by target: newly failing, recovered, still failing, new, gone).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fleet.api.history import open_journal
from fleet.cli.exits import fail
from fleet.cli.options import journal_options, with_options
from fleet.cli.output import print_tsv
from fleet.errors import FleetError, SpecError
from fleet.history import Change, Comparison, History, TargetChange, TargetVerdict
from fleet.journal import resolve_state_dir
from fleet.journal.paths import db_path

OUTPUTS = ("table", "json", "tsv")
OutputOpt = Annotated[str, typer.Option("--output", "-o", help="table, json or tsv.")]
AllOpt = Annotated[bool, typer.Option("--all", help="List unchanged targets too.")]
_ORDER = [
    Change.NEWLY_FAILING, Change.RECOVERED, Change.STILL_FAILING, Change.NEW, Change.GONE,
    Change.UNCHANGED,
]  # fmt: skip


def _check_output(output: str) -> None:
    if output not in OUTPUTS:
        raise SpecError(f"--output must be table, json or tsv, got {output!r}.")


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


def job_runs(job: str, output: str, limit: int, kw: dict[str, Any]) -> None:
    """``fleet runs --job NAME``."""
    try:
        history = _history(kw)
        rows = job_rows(history, job, limit) if history is not None else []
    except FleetError as exc:
        raise fail(exc) from exc
    if output == "json":
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    if output == "tsv":
        print_tsv(
            [r["run_id"], r["started_at"], r["ended"], *r["verdicts"].values(),
             r["newly_failing"], r["recovered"]]
            for r in rows
        )  # fmt: skip
        return
    table = Table(title=f"{len(rows)} runs of {job}")
    for col in ("run id", "started", "ended", "pass", "fail", "skip", "newly failing", "recovered"):
        table.add_column(col, no_wrap=col == "run id")
    for row in rows:
        v = row["verdicts"]
        table.add_row(
            row["run_id"], row["started_at"][:19], row["ended"], str(v["pass"]), str(v["fail"]),
            str(v["skip"]), str(row["newly_failing"]), str(row["recovered"]),
        )  # fmt: skip
    Console().print(table)


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
    output: OutputOpt = "table",
    everything: AllOpt = False,
    **kw: Any,
) -> None:
    """What changed between two runs, target by target, under each run's expectations:
    newly failing, recovered, still failing, new and gone targets (--all: unchanged too)."""
    try:
        _check_output(output)
        history = _history(kw)
        if history is None:
            raise SpecError(f"no fleet journal in {resolve_state_dir(kw.get('state_dir'))}")
        document = diff_document(history.compare(run_a, run_b), everything=everything)
    except FleetError as exc:
        raise fail(exc) from exc
    _print_diff(document, output)


def _print_diff(document: dict[str, Any], output: str) -> None:
    if output == "json":
        json.dump(document, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    rows = [
        [
            t["change"], t["name"],
            (t["before"] or {}).get("verdict") or "-", (t["after"] or {}).get("verdict") or "-",
            (t["after"] or t["before"] or {}).get("reason") or "", t["id"],
        ]
        for t in document["targets"]
    ]  # fmt: skip
    header = ["change", "target", "before", "after", "reason", "id"]
    if output == "tsv":  # one line per target: tabs and line breaks in a field become spaces
        for row in [header, *rows]:
            sys.stdout.write("\t".join(" ".join(str(f).split()) for f in row) + "\n")
        return
    counts = ", ".join(f"{n} {k}" for k, n in document["counts"].items() if n)
    title = f"{document['previous_run_id']} → {document['run_id']}: {counts or 'no targets'}"
    table = Table(title=title)
    for col in header[:-1]:
        table.add_column(col, no_wrap=col in ("change", "target"))
    for row in rows:
        table.add_row(*row[:-1])
    Console().print(table)

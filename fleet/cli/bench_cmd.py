"""``fleet bench``: run benchmark scenarios (built-in names or files) and print the table.

Wiring only: the harness is the installed ``fleet.bench`` package; scenarios are its package
data. Results go to ``--results-dir``, by default ``bench/results`` of the source checkout
(see ``fleet.bench.harness``); an installed fleet has no default and needs ``--results-dir``.
``-o``: the table (default), the result documents' rows as JSON, or a tsv line per row; with
json or tsv, progress goes to stderr so stdout holds the rows only.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from fleet.cli.config import load_config
from fleet.cli.output import OutputOpt, output_format, print_json_or_tsv
from fleet.errors import FleetError

#: The tsv columns after the scenario's name: keys of a result row (``fleet.bench.metrics``).
TSV_KEYS = (
    "name", "makespan_s", "lower_bound_s", "ratio", "targets", "completed", "failed", "skipped",
    "lost", "not_run", "executions_over_once", "throttled", "reads_per_target",
    "writes_per_target", "storage_requests_per_target", "cpu_s", "peak_rss_mb", "extrapolated",
    "wall_s",
)  # fmt: skip


def _show(console: Console, row: dict[str, Any]) -> None:
    mark = " (extrapolated)" if row["extrapolated"] else ""
    console.print(
        f"  {row['name']}: makespan {row['makespan_s']} s{mark}, "
        f"{row['completed']}/{row['targets']} completed, {row['lost']} lost, "
        f"wall {row['wall_s']} s"
    )


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(2)


def _results_dir(given: Path | None) -> Path:
    from fleet.bench.harness import default_results_dir

    found = given or default_results_dir()
    if found is None:
        message = (
            "fleet bench needs --results-dir DIR here: this fleet is installed, not run from a "
            "source checkout, so there is no bench/results/ to write to."
        )
        raise _fail(message)
    return found


def _load(scenarios: list[str]) -> list[Any]:
    from fleet.bench.scenario import ScenarioError, load_scenario

    try:
        return [load_scenario(ref) for ref in scenarios]
    except ScenarioError as exc:
        raise _fail(str(exc)) from exc


ScenariosArg = Annotated[
    list[str],
    typer.Argument(
        help="Scenarios: built-in names (quick, vms-2k, mixed-10k; throttle-current,"
        " throttle-windowed, throttle-none, spent-bucket) or scenario YAML files.",
        show_default=False,
    ),
]
ContenderOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--contender",
        "-c",
        help="Run only these contenders (fleet, fleet-action, fleet-storage, history, "
        "documented, unbounded).",
    ),
]
ResultsDirOpt = Annotated[
    Path | None,
    typer.Option(
        help="Where <scenario>.json goes (default: bench/results of the source checkout; "
        "required when fleet is installed from a wheel)."
    ),
]


def bench(
    scenarios: ScenariosArg,
    contender: ContenderOpt = None,
    results_dir: ResultsDirOpt = None,
    output: OutputOpt = None,
) -> None:
    """Benchmark fleet against SDK fan-outs and the throttle lower bound.

    Contenders: fleet, fleet-action (fleet with --mode action), fleet with completion seen in
    storage (fleet-storage: its emulator runs with an Azurite), fleet twice with a journal
    (history: the 2nd run planned from the 1st's run times), the documented SDK fan-out (5 at a
    time), an unbounded SDK fan-out, and the lower bound; each on a fresh emulator in its own
    process. Prints figures in
    Azure-equivalent seconds; never fails on speed.

    -o json: the result documents' rows (contenders and bounds), each with its "scenario";
    -o tsv: a line per row, no header: scenario, contender, makespan, lower bound, x bound,
    targets, completed, failed, skipped, lost, not run, over once, 429s, reads/t, writes/t,
    storage/t, cpu s, RSS MB, extrapolated, wall s. With json or tsv, progress goes to stderr."""
    from fleet.bench import harness, render

    try:
        fmt = output_format(output, default=load_config().output)
    except FleetError as exc:
        raise _fail(str(exc)) from exc
    out_dir = _results_dir(results_dir)
    loaded = _load(scenarios)
    # A log or a pipe gets the whole table, not an 80-column fold.
    width = None if sys.stdout.isatty() else 150
    console = Console(width=width, stderr=fmt != "table")
    rows: list[dict[str, Any]] = []
    for sc in loaded:
        console.print(f"[bold]{sc.name}[/]: {sc.description} (time scale {sc.time_scale:g})")
        document = harness.run_scenario(
            sc, contenders=contender, results_dir=out_dir, on_row=partial(_show, console)
        )
        if fmt == "table":
            console.print(render.table(document))
        console.print(f"results: {document['path']}")
        rows += [{"scenario": sc.name, **row} for row in document["contenders"]]
    _print_rows(rows, fmt)


def _print_rows(rows: list[dict[str, Any]], fmt: str) -> None:
    """``-o json`` and ``-o tsv``: every scenario's rows on stdout (the table is printed as
    each scenario ends)."""
    print_json_or_tsv(
        fmt, rows, ([row["scenario"], *(row.get(k) for k in TSV_KEYS)] for row in rows)
    )

"""``fleet bench``: run benchmark scenarios (``configs/bench/*.yaml``) and print the table.

Wiring only: the harness is the ``bench`` package at the root of a source checkout (it is not
installed with fleet, and benchmarks need the checkout's scenario files anyway).
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

ROOT = Path(__file__).resolve().parents[2]


def _import_harness():  # type: ignore[no-untyped-def]
    if not (ROOT / "bench" / "harness.py").is_file():
        Console(stderr=True).print(
            "[bold red]error:[/] fleet bench needs a source checkout (bench/ next to fleet/)."
        )
        raise typer.Exit(2)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench import harness, render, scenario

    return harness, render, scenario


def _show(console: Console, row: dict[str, Any]) -> None:
    mark = " (extrapolated)" if row["extrapolated"] else ""
    console.print(
        f"  {row['name']}: makespan {row['makespan_s']} s{mark}, "
        f"{row['completed']}/{row['targets']} completed, {row['lost']} lost, "
        f"wall {row['wall_s']} s"
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def bench(
        scenarios: Annotated[
            list[Path], typer.Argument(help="Scenario files, e.g. configs/bench/quick.yaml.")
        ],
        contender: Annotated[
            list[str] | None,
            typer.Option(
                "--contender",
                "-c",
                help="Run only these contenders (fleet, documented, unbounded).",
            ),
        ] = None,
        results_dir: Annotated[
            Path | None, typer.Option(help="Where <scenario>.json goes (default bench/results).")
        ] = None,
    ) -> None:
        """Benchmark fleet against SDK fan-outs and the throttle lower bound.

        Contenders: fleet, the documented SDK fan-out (5 at a time), an unbounded SDK fan-out,
        and the lower bound; each on a fresh emulator in its own process. Prints figures in
        Azure-equivalent seconds; never fails on speed."""
        harness, render, scenario_mod = _import_harness()
        # A log or a pipe gets the whole table, not an 80-column fold.
        console = Console(width=None if sys.stdout.isatty() else 150)
        try:
            loaded = [scenario_mod.load_scenario(p) for p in scenarios]
        except scenario_mod.ScenarioError as exc:
            Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from exc
        for sc in loaded:
            console.print(f"[bold]{sc.name}[/]: {sc.description} (time scale {sc.time_scale:g})")

            kwargs = {"results_dir": results_dir} if results_dir else {}
            document = harness.run_scenario(
                sc, contenders=contender, on_row=partial(_show, console), **kwargs
            )
            console.print(render.table(document))
            console.print(f"results: {document['path']}")

"""Entry point of the ``fleet`` command (``fleet --help``)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from fleet import __version__
from fleet.cli import (
    bench_cmd,
    checks_cmd,
    clean_cmd,
    commands_cmd,
    history_cmd,
    resume_cmd,
    run_cmd,
    serve_cmd,
    sim_cmd,
    temporal_cmd,
)
from fleet.cli.exits import run_cli, set_debug

app = typer.Typer(
    help=(
        "fleet runs a script on hundreds to tens of thousands of Azure VMs and VM scale-set "
        "instances through managed Run Commands (or the older action Run Command, --mode "
        "action), as fast as Azure's throttling limits allow, and reports exactly what "
        "happened on each one.\n\n"
        "Try it on the built-in simulated fleet: `fleet run --sim --tag env=prod --script "
        "uptime` (or, in a source checkout, `fleet run configs/jobs/health-check.yaml --sim`). "
        "`fleet sim profiles` lists the simulated fleets; `fleet sim serve` runs the Azure "
        "emulator on its own."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(sim_cmd.app, name="sim")
app.command("run", help=run_cmd.RUN_HELP)(run_cmd.run)
app.command("targets")(run_cmd.targets)
app.command("plan")(run_cmd.plan)
app.command("runs")(history_cmd.runs)
app.command("show")(history_cmd.show)
app.command("resume")(resume_cmd.resume)
app.command("rerun")(resume_cmd.rerun)
app.command("diff")(checks_cmd.diff)
app.command("clean", help=clean_cmd.CLEAN_HELP)(clean_cmd.clean_command)
app.command("bench")(bench_cmd.bench)
app.command("serve", help=serve_cmd.SERVE_HELP)(serve_cmd.serve_cmd)
app.command("worker", help=temporal_cmd.WORKER_HELP)(temporal_cmd.worker_cmd)
app.command("commands")(commands_cmd.commands)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fleet {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Show the traceback of a failure (for a bug report).", is_eager=True
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print fleet's version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    set_debug(debug)


@app.command()
def version() -> None:
    """Print fleet's version."""
    typer.echo(f"fleet {__version__}")


def main() -> None:
    try:
        run_cli(app)
    except SystemExit as done:
        if temporal_cmd.USED["temporal"]:  # see temporal_cmd.USED: skip the teardown
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        raise


if __name__ == "__main__":
    main()

"""Launching a prepared run from the command line: show the plan and ask (above
``rollout.confirm_over`` targets), then run exactly that plan — with the live display, Ctrl-C
handling and the journal. Shared by ``fleet run`` and ``fleet rerun``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import anyio

from fleet.api.run import run_async
from fleet.cli.exits import err_console
from fleet.cli.rollout_view import confirm_run
from fleet.cli.signals import relay_signals
from fleet.cli.terminal import TerminalObserver
from fleet.journal import Journal
from fleet.model import RunPlan, RunReport
from fleet.ports import Backend
from fleet.rollout.control import RunControl
from fleet.spec import Recipe


async def launch(
    plan: RunPlan,
    backend: Backend,
    *,
    journal: Journal | None,
    recipe: Recipe | None,
    yes: bool,
    ask: Callable[[str], str] | None = None,
    outputs_root: Path | None = None,
) -> RunReport:
    """Confirm ``plan``, then run it. ``ask``: how to ask (the terminal by default);
    ``outputs_root``: where full outputs go (``fleet.cli.wiring.outputs_root``)."""
    interactive = sys.stdin.isatty() and err_console.is_terminal
    # Blocks the event loop while the operator reads the plan: nothing is in flight yet.
    confirm_run(
        err_console, plan, yes=yes, interactive=ask is not None or interactive,
        ask=ask or err_console.input,
    )  # fmt: skip
    spec = plan.spec
    control = RunControl(cancel_running=spec.rollout.cancel_running)
    async with anyio.create_task_group() as tg:
        tg.start_soon(relay_signals, control, err_console, spec.rollout.cancel_grace_s)
        with TerminalObserver(err_console, title=f"fleet run {spec.name}") as observer:
            report = await run_async(
                plan, backend, observer=observer, control=control, journal=journal,
                recipe=recipe, outputs_root=outputs_root,
            )  # fmt: skip
        tg.cancel_scope.cancel()
    return report

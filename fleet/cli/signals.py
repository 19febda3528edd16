"""Ctrl-C and SIGTERM during ``fleet run``: each signal escalates the run one step through
``fleet.rollout.control.RunControl`` (stop launching → delete in-flight run commands) and says
so on stderr. Installed only while the run is in flight; before it, Ctrl-C ends fleet at once
(nothing has been sent yet). A third signal exits at once (exit code 130) without waiting for
anything: the journal already holds what a later ``fleet resume`` needs.
"""

from __future__ import annotations

import os
import signal

import anyio
from rich.console import Console

from fleet.rollout.control import RunControl, Stage
from fleet.spec import format_duration


def _message(name: str, control: RunControl, grace_s: int) -> str:
    if control.stage is Stage.CANCELING:
        return (
            f"{name}: canceling — deleting the in-flight run commands; they are reported Canceled."
        )
    return (
        f"{name}: no new targets will be launched; running targets get up to "
        f"{format_duration(grace_s) if grace_s else '0s'} to finish, then the report is "
        "written. Press Ctrl-C again to cancel them (delete their run commands)."
    )


async def relay_signals(control: RunControl, console: Console, grace_s: int) -> None:
    """Forward SIGINT/SIGTERM to ``control`` until cancelled."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            already = control.stage is Stage.CANCELING
            control.interrupt(f"interrupted by {name}")
            if already:  # a third signal: the operator wants out now, whatever is in flight
                console.print(
                    f"{name}: exiting now. The journal knows what was in flight: "
                    "`fleet resume RUN_ID` finishes the run, `fleet show RUN_ID` shows it.",
                    highlight=False,
                )
                os._exit(130)
            else:
                console.print(_message(name, control, grace_s), highlight=False)

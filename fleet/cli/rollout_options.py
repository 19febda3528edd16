"""The ``fleet run``/``fleet plan`` rollout flags (an option group for ``with_options``); they
map onto a job file's ``rollout:`` section and may override it (``fleet.spec.RolloutOptions``).
"""

from __future__ import annotations

from typing import Annotated

import typer

ROL = "Rollout (also override a job file's rollout: section)"


BatchesOpt = Annotated[
    str | None,
    typer.Option(
        "--batches",
        help="Batch sizes, e.g. '1,5,10%,50%,100%' (the last repeats; % rounds "
        "up, min 1). Each batch finishes before the next starts.",
        rich_help_panel=ROL,
    ),
]
OrderOpt = Annotated[
    str | None,
    typer.Option(
        "--order",
        help="as-selected, name, random, zone-by-zone or fault-domain.",
        rich_help_panel=ROL,
    ),
]
SeedOpt = Annotated[
    str | None,
    typer.Option("--seed", help="Seed for --order random (default 0).", rich_help_panel=ROL),
]
MaxErrorsOpt = Annotated[
    str | None,
    typer.Option(
        "--max-errors",
        help="Error budget: N or N% (rounds down). Exceeded = no new launches.",
        rich_help_panel=ROL,
    ),
]
CountPlatformFailuresOpt = Annotated[
    bool,
    typer.Option(
        "--count-platform-failures",
        help="Let not-running / access-denied / agent-not-ready targets spend the error budget.",
        rich_help_panel=ROL,
    ),
]
PauseOpt = Annotated[
    str | None,
    typer.Option("--pause", help="Soak time between batches, e.g. 5m.", rich_help_panel=ROL),
]
DeadlineOpt = Annotated[
    str | None,
    typer.Option(
        "--deadline",
        help="Deadline for the whole run, e.g. 2h: no launches after it.",
        rich_help_panel=ROL,
    ),
]
CancelGraceOpt = Annotated[
    str | None,
    typer.Option(
        "--cancel-grace",
        help="After a stop, how long running targets may finish (default "
        "5m); then they are left running and reported.",
        rich_help_panel=ROL,
    ),
]
CancelRunningOpt = Annotated[
    bool,
    typer.Option(
        "--cancel-running",
        help="On a stop (Ctrl-C, SIGTERM, deadline) delete the in-flight "
        "run commands at once and report them Canceled.",
        rich_help_panel=ROL,
    ),
]
ConfirmOverOpt = Annotated[
    str | None,
    typer.Option(
        "--confirm-over",
        help="Ask for confirmation above this many targets (default 10).",
        rich_help_panel=ROL,
    ),
]


CleanupOpt = Annotated[
    str | None,
    typer.Option(
        "--cleanup",
        help="What fleet deletes once a result is read: keep-last (default: nothing, the last "
        "run command of each job stays), delete-on-success or always (never one in flight).",
        rich_help_panel=ROL,
    ),
]
PendingTimeoutOpt = Annotated[
    str | None,
    typer.Option(
        "--pending-timeout",
        help="A target whose run command stays Pending (VM agent not picking it up) this "
        "long is reported AgentNotReady (default 26m: Azure gives up after about 25m).",
        rich_help_panel=ROL,
    ),
]


RebootOpt = Annotated[
    str | None,
    typer.Option(
        "--reboot",
        help="Restart each VM after its script: never (default), if-required (the script said "
        "so: --reboot-exit-codes or --reboot-marker) or always (after every success); fleet "
        "waits until it runs with its agent Ready again. Never twice, even across a resume.",
        rich_help_panel=ROL,
    ),
]
RebootExitCodesOpt = Annotated[
    str | None,
    typer.Option(
        "--reboot-exit-codes",
        help="Exit codes that mean 'reboot required', e.g. 100 (each must also be a success "
        "exit code of the script).",
        rich_help_panel=ROL,
    ),
]
RebootMarkerOpt = Annotated[
    str | None,
    typer.Option(
        "--reboot-marker",
        help="A regex: a line of the output it matches means 'reboot required'.",
        rich_help_panel=ROL,
    ),
]
RebootTimeoutOpt = Annotated[
    str | None,
    typer.Option(
        "--reboot-timeout",
        help="How long a restarted VM may take to run with its agent Ready again (default "
        "15m); later it is RebootTimedOut, a failure for the error budget.",
        rich_help_panel=ROL,
    ),
]


def rollout_options(
    batches: BatchesOpt = None,
    order: OrderOpt = None,
    seed: SeedOpt = None,
    max_errors: MaxErrorsOpt = None,
    count_platform_failures: CountPlatformFailuresOpt = False,
    pause: PauseOpt = None,
    deadline: DeadlineOpt = None,
    cancel_grace: CancelGraceOpt = None,
    cancel_running: CancelRunningOpt = False,
    confirm_over: ConfirmOverOpt = None,
    cleanup: CleanupOpt = None,
    pending_timeout: PendingTimeoutOpt = None,
    reboot: RebootOpt = None,
    reboot_exit_codes: RebootExitCodesOpt = None,
    reboot_marker: RebootMarkerOpt = None,
    reboot_timeout: RebootTimeoutOpt = None,
) -> None:
    """(parameters only)"""

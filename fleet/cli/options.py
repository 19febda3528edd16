"""Option groups shared by ``fleet run``, ``fleet targets`` and ``fleet plan``, and a decorator
that splices a group's parameters into a typer command's signature (typer has no option groups).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

SEL = "Target selection"
SCR = "Script"
CON = "Connection"
OUT = "Output"


def selection_options(
    spec: Annotated[
        Path | None,
        typer.Argument(
            help="Job spec (YAML). Omit to describe the job with flags instead.", show_default=False
        ),
    ] = None,
    job_name: Annotated[
        str | None,
        typer.Option(
            "--job-name", help="Job name (names the run command fleet-<name>).", rich_help_panel=SEL
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag",
            "-t",
            help="Tag filter: k=v, k=v1,v2 (OR) or k (key present). Repeat = AND.",
            rich_help_panel=SEL,
        ),
    ] = None,
    resource_group: Annotated[
        list[str] | None,
        typer.Option(
            "--resource-group", "-g", help="Resource group (repeatable).", rich_help_panel=SEL
        ),
    ] = None,
    target_name: Annotated[
        list[str] | None,
        typer.Option(
            "--target-name",
            "-n",
            help="VM or instance name glob, e.g. 'web-*' (repeatable).",
            rich_help_panel=SEL,
        ),
    ] = None,
    query: Annotated[
        str | None,
        typer.Option(
            "--query",
            help="Resource Graph KQL over Resources; must return the id column.",
            rich_help_panel=SEL,
        ),
    ] = None,
    no_scale_sets: Annotated[
        bool,
        typer.Option(
            "--no-scale-sets",
            help="Leave out scale-set instances (Uniform and Flexible).",
            rich_help_panel=SEL,
        ),
    ] = False,
    exclude_name: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude-name", help="Name glob to leave out (repeatable).", rich_help_panel=SEL
        ),
    ] = None,
    exclude_tag: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude-tag", help="Tag filter to leave out (repeatable).", rich_help_panel=SEL
        ),
    ] = None,
    all_targets: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Select every VM and instance the connection can see (no other filter "
            "needed; a guard against running everywhere by accident).",
            rich_help_panel=SEL,
        ),
    ] = False,
) -> None:
    """(parameters only)"""


def script_options(
    script: Annotated[
        str | None, typer.Option("--script", "-s", help="Inline script text.", rich_help_panel=SCR)
    ] = None,
    script_file: Annotated[
        Path | None,
        typer.Option("--script-file", help="Script file to send inline.", rich_help_panel=SCR),
    ] = None,
    script_uri: Annotated[
        str | None,
        typer.Option(
            "--script-uri",
            help="Script URI (a SAS URI is treated as a secret).",
            rich_help_panel=SCR,
        ),
    ] = None,
    command_id: Annotated[
        str | None,
        typer.Option(
            "--command-id",
            help="Built-in command, e.g. RunShellScript, RunPowerShellScript.",
            rich_help_panel=SCR,
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-P", help="Parameter NAME=VALUE (repeatable).", rich_help_panel=SCR
        ),
    ] = None,
    protected_param: Annotated[
        list[str] | None,
        typer.Option(
            "--protected-param",
            help="Secret parameter NAME=env:VAR, read from the environment (never a literal).",
            rich_help_panel=SCR,
        ),
    ] = None,
    run_as_user: Annotated[
        str | None,
        typer.Option(
            "--run-as-user", help="Run the script as this existing user.", rich_help_panel=SCR
        ),
    ] = None,
    run_as_password_env: Annotated[
        str | None,
        typer.Option(
            "--run-as-password-env",
            help="Environment variable holding the run-as password.",
            rich_help_panel=SCR,
        ),
    ] = None,
    timeout: Annotated[
        str | None,
        typer.Option(
            "--timeout",
            help="Script timeout: seconds or 90s/10m/1h (default 10m).",
            rich_help_panel=SCR,
        ),
    ] = None,
    max_concurrency: Annotated[
        str | None,
        typer.Option(
            "--max-concurrency",
            "-c",
            help="Targets in flight at once: N or N% (default: all; "
            "the throttle model paces launches).",
            rich_help_panel=SCR,
        ),
    ] = None,
) -> None:
    """(parameters only)"""


def connection_options(
    sim: Annotated[
        bool,
        typer.Option(
            "--sim",
            help="Run against the built-in simulated fleet (an Azure emulator started "
            "in-process). Nothing touches Azure.",
            rich_help_panel=CON,
        ),
    ] = False,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            help="--sim only: the simulated fleet, a built-in profile name (see `fleet sim "
            "profiles`) or the path of a profile YAML file.",
            rich_help_panel=CON,
        ),
    ] = "demo",
    time_scale: Annotated[
        float,
        typer.Option(
            "--time-scale",
            help="--sim only: run the simulated Azure K times faster.",
            min=0.001,
            rich_help_panel=CON,
        ),
    ] = 20.0,
    subscription: Annotated[
        list[str] | None,
        typer.Option("--subscription", help="Subscription id (repeatable).", rich_help_panel=CON),
    ] = None,
    cloud: Annotated[
        str,
        typer.Option(
            "--cloud", help="public, usgov or china (DefaultAzureCredential).", rich_help_panel=CON
        ),
    ] = "public",
    arm_endpoint: Annotated[
        str | None,
        typer.Option(
            "--arm-endpoint",
            help="Custom ARM endpoint (emulator, Azure Stack); bearer token from "
            "FLEET_ACCESS_TOKEN.",
            rich_help_panel=CON,
        ),
    ] = None,
    ca_cert: Annotated[
        Path | None,
        typer.Option(
            "--ca-cert",
            help="CA certificate (PEM) to trust for --arm-endpoint.",
            rich_help_panel=CON,
        ),
    ] = None,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format", help="auto, console or json (logs go to stderr).", rich_help_panel=OUT
        ),
    ] = "auto",
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.", rich_help_panel=OUT)
    ] = "warning",
) -> None:
    """(parameters only)"""


def journal_options(
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            help="Where the run journal lives (default: $FLEET_STATE_DIR, else the "
            "user data directory).",
            rich_help_panel=OUT,
        ),
    ] = None,
) -> None:
    """(parameters only)"""


def with_options(
    *groups: Callable[..., None],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give ``command`` the parameters of ``groups`` (after its own); they arrive as kwargs."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = list(inspect.signature(command, eval_str=True).parameters.values())
        own = [p for p in own if p.kind is not inspect.Parameter.VAR_KEYWORD]
        extra = [p for g in groups for p in inspect.signature(g, eval_str=True).parameters.values()]
        names = {p.name for p in own}

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            return command(**kwargs)

        wrapper.__annotations__ = {}  # the signature below carries the resolved annotations
        del wrapper.__wrapped__  # make typer read __signature__, not the original function

        params = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in extra if p.name not in names
        ]
        # A function has no declared __signature__ attribute, but inspect (and so typer) reads it.
        wrapper.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + params
        )
        return wrapper

    return decorate

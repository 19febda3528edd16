"""Option groups shared by ``fleet run``, ``fleet targets``, ``fleet plan`` and ``fleet clean``
(which takes no ``--job-name``: it names no new job), and a decorator
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


SpecOpt = Annotated[
    Path | None,
    typer.Argument(
        help="Job spec (YAML). Omit to describe the job with flags instead.", show_default=False
    ),
]
JobNameOpt = Annotated[
    str | None,
    typer.Option(
        "--job-name", help="Job name (names the run command fleet-<name>).", rich_help_panel=SEL
    ),
]
TagOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        "-t",
        help="Tag filter: k=v, k=v1,v2 (OR) or k (key present). Repeat = AND.",
        rich_help_panel=SEL,
    ),
]
ResourceGroupOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--resource-group", "-g", help="Resource group (repeatable).", rich_help_panel=SEL
    ),
]
TargetNameOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--target-name",
        "-n",
        help="VM or instance name glob, e.g. 'web-*' (repeatable).",
        rich_help_panel=SEL,
    ),
]
QueryOpt = Annotated[
    str | None,
    typer.Option(
        "--query",
        help="Resource Graph KQL over Resources; must return the id column.",
        rich_help_panel=SEL,
    ),
]
NoScaleSetsOpt = Annotated[
    bool,
    typer.Option(
        "--no-scale-sets",
        help="Leave out scale-set instances (Uniform and Flexible).",
        rich_help_panel=SEL,
    ),
]
ExcludeNameOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude-name",
        help="Name glob to leave out (repeatable; adds to a job file's exclusions). One that "
        "matches no selected target is refused (exit 2, nothing sent).",
        rich_help_panel=SEL,
    ),
]
ExcludeTagOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude-tag",
        help="Tag filter to leave out (repeatable; adds to a job file's exclusions).",
        rich_help_panel=SEL,
    ),
]
AllowEmptyOpt = Annotated[
    bool,
    typer.Option(
        "--allow-empty",
        help="A selection that matches nothing is fine (exit 0); without it, that is an "
        "error (exit 2), so a typo in a tag cannot keep a scheduled run green.",
        rich_help_panel=SEL,
    ),
]
AllTargetsOpt = Annotated[
    bool,
    typer.Option(
        "--all",
        help="Select every VM and instance the connection can see (no other filter "
        "needed; a guard against running everywhere by accident).",
        rich_help_panel=SEL,
    ),
]


def job_name_option(job_name: JobNameOpt = None) -> None:
    """(parameters only)"""


def selection_options(
    spec: SpecOpt = None,
    tag: TagOpt = None,
    resource_group: ResourceGroupOpt = None,
    target_name: TargetNameOpt = None,
    query: QueryOpt = None,
    no_scale_sets: NoScaleSetsOpt = False,
    exclude_name: ExcludeNameOpt = None,
    exclude_tag: ExcludeTagOpt = None,
    all_targets: AllTargetsOpt = False,
    allow_empty: AllowEmptyOpt = False,
) -> None:
    """(parameters only)"""


ScriptOpt = Annotated[
    str | None,
    typer.Option(
        "--script", "-s", help="Shell script text, for Linux targets.", rich_help_panel=SCR
    ),
]
ScriptFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--script-file",
        help="Shell script file (sent inline), for Linux targets.",
        rich_help_panel=SCR,
    ),
]
ScriptUriOpt = Annotated[
    str | None,
    typer.Option(
        "--script-uri",
        help="Shell script URI, for Linux targets (a SAS URI is treated as a secret).",
        rich_help_panel=SCR,
    ),
]
WindowsScriptOpt = Annotated[
    str | None,
    typer.Option(
        "--windows-script",
        help="PowerShell script text, for Windows targets (without one, Windows targets get "
        "no script and are reported Skipped).",
        rich_help_panel=SCR,
    ),
]
WindowsScriptFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--windows-script-file",
        help="PowerShell script file (sent inline), for Windows targets.",
        rich_help_panel=SCR,
    ),
]
SuccessExitCodesOpt = Annotated[
    str | None,
    typer.Option(
        "--success-exit-codes",
        help="Exit codes that count as Succeeded, e.g. 0,100 (default 0; the report keeps "
        "the code). Also overrides a job file's.",
        rich_help_panel=SCR,
    ),
]
CommandIdOpt = Annotated[
    str | None,
    typer.Option(
        "--command-id",
        help="Built-in command, e.g. RunShellScript, ifconfig, IPConfig (`fleet commands` "
        "lists them); checked against the targets' locations before anything is sent.",
        rich_help_panel=SCR,
    ),
]
ModeOpt = Annotated[
    str | None,
    typer.Option(
        "--mode",
        help="managed (default: managed Run Commands) or action (the older `az vm run-command "
        "invoke` API: one at a time per VM, no cancel; fleet recovers the exit code).",
        rich_help_panel=SCR,
    ),
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-P", help="Parameter NAME=VALUE (repeatable).", rich_help_panel=SCR),
]
ProtectedParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--protected-param",
        help="Secret parameter NAME=env:VAR, read from the environment (never a literal).",
        rich_help_panel=SCR,
    ),
]
RunAsUserOpt = Annotated[
    str | None,
    typer.Option(
        "--run-as-user", help="Run the script as this existing user.", rich_help_panel=SCR
    ),
]
RunAsPasswordEnvOpt = Annotated[
    str | None,
    typer.Option(
        "--run-as-password-env",
        help="Environment variable holding the run-as password.",
        rich_help_panel=SCR,
    ),
]
TimeoutOpt = Annotated[
    str | None,
    typer.Option(
        "--timeout",
        help="Script timeout: seconds or 90s/10m/1h (default 10m). Also overrides a job file's.",
        rich_help_panel=SCR,
    ),
]
MaxConcurrencyOpt = Annotated[
    str | None,
    typer.Option(
        "--max-concurrency",
        "-c",
        help="Targets in flight at once: N or N% (default: all; "
        "the throttle model paces launches). Also overrides a job file's.",
        rich_help_panel=SCR,
    ),
]


def script_options(
    script: ScriptOpt = None,
    script_file: ScriptFileOpt = None,
    script_uri: ScriptUriOpt = None,
    windows_script: WindowsScriptOpt = None,
    windows_script_file: WindowsScriptFileOpt = None,
    command_id: CommandIdOpt = None,
    param: ParamOpt = None,
    protected_param: ProtectedParamOpt = None,
    run_as_user: RunAsUserOpt = None,
    run_as_password_env: RunAsPasswordEnvOpt = None,
    timeout: TimeoutOpt = None,
    success_exit_codes: SuccessExitCodesOpt = None,
    max_concurrency: MaxConcurrencyOpt = None,
    mode: ModeOpt = None,
) -> None:
    """(parameters only)"""


SimOpt = Annotated[
    bool,
    typer.Option(
        "--sim",
        help="Run against the built-in simulated fleet (an Azure emulator started "
        "in-process). Nothing touches Azure.",
        rich_help_panel=CON,
    ),
]
ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile",
        help="--sim only: the simulated fleet, a built-in profile name (see `fleet sim "
        "profiles`) or the path of a profile YAML file.",
        rich_help_panel=CON,
    ),
]
TimeScaleOpt = Annotated[
    float | None,
    typer.Option(
        "--time-scale",
        help="How many times faster than Azure the simulated Azure runs: the --sim emulator "
        "(default 20), or an emulator at --arm-endpoint (default 1, as real Azure).",
        min=0.001,
        rich_help_panel=CON,
        show_default=False,
    ),
]
SubscriptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--subscription",
        help="Subscription id (repeatable; default: $AZURE_SUBSCRIPTION_ID, else the config "
        "file's subscriptions).",
        rich_help_panel=CON,
    ),
]
CloudOpt = Annotated[
    str,
    typer.Option(
        "--cloud", help="public, usgov or china (DefaultAzureCredential).", rich_help_panel=CON
    ),
]
ArmEndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--arm-endpoint",
        help="Custom ARM endpoint (emulator, Azure Stack); bearer token from FLEET_ACCESS_TOKEN.",
        rich_help_panel=CON,
    ),
]
CaCertOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-cert",
        help="CA certificate (PEM) to trust for --arm-endpoint.",
        rich_help_panel=CON,
    ),
]
LogFormatOpt = Annotated[
    str,
    typer.Option(
        "--log-format", help="auto, console or json (logs go to stderr).", rich_help_panel=OUT
    ),
]
LogLevelOpt = Annotated[
    str, typer.Option("--log-level", help="debug, info, warning or error.", rich_help_panel=OUT)
]


def connection_options(
    sim: SimOpt = False,
    profile: ProfileOpt = "demo",
    time_scale: TimeScaleOpt = None,
    subscription: SubscriptionOpt = None,
    cloud: CloudOpt = "public",
    arm_endpoint: ArmEndpointOpt = None,
    ca_cert: CaCertOpt = None,
    log_format: LogFormatOpt = "auto",
    log_level: LogLevelOpt = "warning",
) -> None:
    """(parameters only)"""


StateDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Where the run journal lives (default: $FLEET_STATE_DIR, else the config "
        "file's state_dir, else the user data directory).",
        rich_help_panel=OUT,
    ),
]


ReportFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--report-format",
        help="Format of the --report file: json, junit, csv or html (one standalone page). "
        "Default: as the file's suffix says (.xml junit, .csv, .html), else json.",
        rich_help_panel=OUT,
        show_default=False,
    ),
]


def journal_options(
    state_dir: StateDirOpt = None,
) -> None:
    """(parameters only)"""


TMP = "Temporal"
TemporalOpt = Annotated[
    str | None,
    typer.Option(
        "--temporal",
        help="HOST:PORT of a Temporal server: the run lives there and fleet workers run it "
        "(`fleet worker`); runs, show and resume read it from there.",
        rich_help_panel=TMP,
        show_default=False,
    ),
]
NamespaceOpt = Annotated[
    str, typer.Option("--namespace", help="The Temporal namespace.", rich_help_panel=TMP)
]


def temporal_options(temporal: TemporalOpt = None, namespace: NamespaceOpt = "default") -> None:
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

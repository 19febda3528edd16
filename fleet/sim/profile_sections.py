"""Fleet-profile sections other than the fleet's layout: script outcomes, faults, throttling.

Also owns the field types shared by the whole profile schema (fractions, weights, GUIDs, output
templates). Pure: no I/O. ``fleet.sim.profile`` assembles these into the top-level ``Profile``.
"""

from __future__ import annotations

import string
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    model_validator,
)


class StrictModel(BaseModel):
    """Base of every profile section: unknown fields are errors and parsed profiles are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def scalar_to_text(value: Any) -> Any:
    # YAML turns `zone: 1` into an int and `patch: yes` into a bool; profile authors mean text.
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


def check_weights(weights: dict[Any, float]) -> dict[Any, float]:
    if not weights or sum(weights.values()) <= 0:
        raise ValueError("weights must sum to more than 0")
    return weights


def _check_guid(value: str) -> str:
    example = "11111111-1111-1111-1111-111111111111"
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        parsed = None
    if parsed is None or len(value) != len(example):
        raise ValueError(f"must be a GUID like {example} (got {value!r})")
    return str(parsed)


#: Text that YAML may have parsed as a number or boolean.
Text = Annotated[str, BeforeValidator(scalar_to_text)]
#: A probability or share of a population, in [0, 1].
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
#: A relative weight; a set of weights must be non-negative and sum to more than 0.
Weight = Annotated[float, Field(ge=0.0)]
#: A GUID in its canonical 8-4-4-4-12 form (normalised to lower case).
Guid = Annotated[str, AfterValidator(_check_guid)]

#: Placeholders an outcome's ``output``/``error`` template may use; values are stable per VM.
PLACEHOLDERS: dict[str, str] = {
    "hostname": "the VM's computer name",
    "vm_name": "the VM (or instance) name",
    "resource_group": "the resource group",
    "location": "the region, e.g. eastus",
    "zone": "the availability zone, or '-' when not zonal",
    "vm_size": "e.g. Standard_D2s_v5",
    "os": "a distribution or edition, e.g. 'Ubuntu 22.04.4 LTS'",
    "kernel": "Linux kernel release (5.15.0-1064-azure) or Windows build (10.0.20348.2582)",
    "uptime": "e.g. 'up 12 days, 3:04'",
    "load": "load averages, e.g. '0.42, 0.37, 0.30'",
    "cpu_pct": "CPU use in percent",
    "mem_pct": "memory use in percent",
    "disk_pct": "use of the OS disk in percent",
    "disk_size_gb": "OS disk size in GB",
    "disk_used_gb": "used space on the OS disk in GB",
    "disk_free_gb": "free space on the OS disk in GB",
    "ip": "a private 10.x address",
    "pkg_refresh": "the package manager's metadata refresh (apt, or dnf on Red Hat)",
    "pkg_update_log": "what a package update prints on this VM's distribution",
    "pkg_kernel_log": "the same, for an update that installs a new kernel",
    "pkg_no_space": "the package manager's out-of-disk-space error",
    "pkg_status": "the package manager's exit status when it fails (apt 100, dnf 1)",
    "script_first_line": "the script's first non-blank line (after any #! line)",
    "exit_code": "this outcome's exit code",
    "run_command": "the run command's name",
    "parameters": "the names of the parameters sent (protected ones marked, never their values)",
}


def _check_template(template: str) -> str:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ValueError(f"bad template ({exc}); write {{{{ and }}}} for literal braces") from exc
    for name in fields:
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            message = f"unknown placeholder {{{name}}}; known placeholders: {known}"
            raise ValueError(message + " (write {{ and }} for literal braces)")
    return template


#: Script output text with ``{placeholder}`` fields (see ``PLACEHOLDERS``).
Template = Annotated[str, AfterValidator(_check_template)]


class Distribution(StrictModel):
    """A log-normal delay in Azure-seconds: ``median`` and ``sigma`` (of the log), clamped."""

    median: PositiveFloat
    sigma: NonNegativeFloat = 0.5
    min: NonNegativeFloat = 0.0
    max: PositiveFloat = 3600.0

    @model_validator(mode="after")
    def _ordered(self) -> Distribution:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class Outcome(StrictModel):
    """One class of script result. Each VM draws its class once (by weight) and keeps it.

    ``output``/``error`` are templates for stdout/stderr; ``windows_output``/``windows_error``
    replace them on Windows VMs when given. ``duration`` replaces ``script.duration`` for this
    class (e.g. a slow class that runs into the run command's timeout). In a behaviour (see
    :class:`Behaviour`), ``vm_class`` says which VM class the outcome is for (default: its
    ``name``); several outcomes for one class share its VMs by ``weight``.
    """

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    vm_class: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")] | None = None
    weight: Weight = 1.0
    exit_code: int = 0
    output: Template = ""
    error: Template = ""
    windows_output: Template | None = None
    windows_error: Template | None = None
    duration: Distribution | None = None


_OK_LINUX = """\
== health check: {hostname} ==
os:      {os} (kernel {kernel})
uptime:  {uptime}
load:    {load}
memory:  {mem_pct}% used
disk /:  {disk_used_gb}G of {disk_size_gb}G used ({disk_pct}%), {disk_free_gb}G free
network: eth0 {ip}
services: sshd active, walinuxagent active
status:  OK
"""
_OK_WINDOWS = """\
== health check: {hostname} ==
OS       : {os} (build {kernel})
Uptime   : {uptime}
CPU      : {cpu_pct}%
Memory   : {mem_pct}% used
Disk C:  : {disk_used_gb} GB of {disk_size_gb} GB used ({disk_pct}%), {disk_free_gb} GB free
IPv4     : {ip}
Services : WinRM Running, WindowsAzureGuestAgent Running
Status   : OK
"""

DEFAULT_OUTCOMES: tuple[Outcome, ...] = (
    Outcome(name="ok", weight=0.97, output=_OK_LINUX, windows_output=_OK_WINDOWS),
    Outcome(
        name="disk-full",
        weight=0.015,
        exit_code=1,
        output="== health check: {hostname} ==\ndisk /: {disk_size_gb}G of {disk_size_gb}G used\n",
        error="df: write failed: /var/log/health.log: No space left on device\n"
        "ERROR: / is 100% full (threshold 90%)\n",
        windows_output="== health check: {hostname} ==\nDisk C: : 0 GB free\n",
        windows_error="Out-File : There is not enough space on the disk.\n"
        "ERROR: C: is 100% full (threshold 90%)\n",
    ),
    Outcome(
        name="service-down",
        weight=0.01,
        exit_code=3,
        output="== health check: {hostname} ==\nuptime: {uptime}\n",
        error="nginx.service: inactive (dead)\nERROR: 1 required service is not running\n",
        windows_error="Get-Service : W3SVC is Stopped\nERROR: 1 required service is not running\n",
    ),
    Outcome(
        name="permission-denied",
        weight=0.005,
        exit_code=126,
        error="bash: {script_first_line}: Permission denied\n",
        windows_error="Access is denied. ({script_first_line})\n",
    ),
)


def _default_outcomes() -> list[Outcome]:
    return list(DEFAULT_OUTCOMES)


class ExecSettings(StrictModel):
    """Opt-in: really run the script with bash (output then comes from the script itself)."""

    enabled: bool = False
    max_processes: PositiveInt = 4


class ScriptMatch(StrictModel):
    """Which scripts a behaviour is for; any one criterion matching is enough: ``run_commands``
    (globs on the run-command name, case-insensitive, e.g. ``fleet-patch*``), ``contains``
    (text in the script, e.g. a marker line) or ``sha256`` (hex digest of the script text)."""

    run_commands: list[Annotated[str, Field(min_length=1)]] = []
    contains: list[Annotated[str, Field(min_length=1)]] = []
    sha256: list[Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]] = []

    @model_validator(mode="after")
    def _some(self) -> ScriptMatch:
        if not (self.run_commands or self.contains or self.sha256):
            raise ValueError("give at least one of run_commands, contains, sha256")
        return self


class Behaviour(StrictModel):
    """What a recognised script does. Every VM keeps its class (``script.outcomes``, overrides),
    so the same odd VMs fail whatever runs; ``outcomes`` says what this script does for each
    class (``vm_class``; a class without one behaves like the first outcome's class). No
    ``outcomes``: the profile's ``script.outcomes`` themselves."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    match: ScriptMatch
    outcomes: list[Outcome] = []

    def class_of(self, outcome: Outcome) -> str:
        return outcome.vm_class or outcome.name


class ScriptSettings(StrictModel):
    """How run commands behave: agent pickup delay, run time, and what the script prints.

    ``behaviours`` map recognised scripts (by run-command name, marker text or SHA-256) to what
    they do; the first match wins. Unset, the shipped job scripts' built-in behaviours apply
    (``fleet.sim.job_outputs``); ``[]`` turns them off. A script none matches does what
    ``unknown`` says:
    ``outcomes`` (the profile's outcome classes, e.g. a health check) or ``generic`` (a clearly
    simulated output echoing the run command, the script's first line and the parameter names,
    with the VM class's exit code and error)."""

    pending: Distribution = Distribution(median=3.0, sigma=0.4, min=1.0, max=30.0)
    duration: Distribution = Distribution(median=20.0, sigma=0.6, min=2.0, max=600.0)
    outcomes: Annotated[list[Outcome], Field(min_length=1)] = Field(
        default_factory=_default_outcomes
    )
    behaviours: list[Behaviour] | None = None
    unknown: Literal["outcomes", "generic"] = "outcomes"
    exec: ExecSettings = ExecSettings()

    @model_validator(mode="after")
    def _weights(self) -> ScriptSettings:
        if sum(o.weight for o in self.outcomes) <= 0:
            raise ValueError("outcome weights must sum to more than 0")
        return self


class TransientFaults(StrictModel):
    """A ``rate`` (fraction) of requests fail with one of ``statuses`` before being processed."""

    rate: Fraction = 0.0
    statuses: Annotated[list[Annotated[int, Field(ge=400, le=599)]], Field(min_length=1)] = [
        500,
        503,
    ]


class ConnectionResets(StrictModel):
    """A ``rate`` of requests see the connection dropped; ``after_processing`` of those resets
    happen after the request took effect (so a retried PUT finds it already done). ``methods``
    (e.g. ``[PUT]``) and ``operations`` (operation ids or globs, e.g.
    ``["*RunCommands_CreateOrUpdate"]``) restrict resets to those requests; empty = all."""

    rate: Fraction = 0.0
    after_processing: Fraction = 0.5
    methods: list[Literal["GET", "PUT", "PATCH", "DELETE", "POST"]] = []
    operations: list[Annotated[str, Field(min_length=1)]] = []


class Conflicts(StrictModel):
    """A ``rate`` of run-command writes answered 409 Conflict (another operation in progress)."""

    rate: Fraction = 0.0


class ThrottleStorm(StrictModel):
    """From ``start`` for ``duration`` Azure-seconds (since emulator start), a ``rate`` of
    requests is answered 429 with ``Retry-After: retry_after``."""

    start: NonNegativeFloat
    duration: PositiveFloat
    rate: Fraction = 1.0
    retry_after: PositiveFloat = 5.0


class Faults(StrictModel):
    """Injected failures. All off by default."""

    transient: TransientFaults = TransientFaults()
    connection_resets: ConnectionResets = ConnectionResets()
    conflicts: Conflicts = Conflicts()
    throttle_storms: list[ThrottleStorm] = []


def _pair(names: tuple[str, str]) -> BeforeValidator:
    # Buckets are written as two-element lists in YAML; name the elements for the code.
    def convert(value: Any) -> Any:
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError(f"expected [{names[0]}, {names[1]}] (got {list(value)!r})")
            return dict(zip(names, value, strict=True))
        return value

    return BeforeValidator(convert)


class ArmBucketModel(StrictModel):
    capacity: PositiveInt
    refill_per_s: PositiveFloat


class ComputeBucketModel(StrictModel):
    refill_per_min: PositiveInt
    capacity: PositiveInt


#: ARM bucket, YAML ``[capacity, refill per second]`` or ``{capacity, refill_per_s}``.
ArmBucket = Annotated[ArmBucketModel, _pair(("capacity", "refill_per_s"))]
#: Compute RP bucket, YAML ``[refill per minute, capacity]`` (the order of the published tables).
ComputeBucket = Annotated[ComputeBucketModel, _pair(("refill_per_min", "capacity"))]

#: Compute RP throttling policies that may be overridden (published names without spaces).
ComputePolicyName = Literal[
    "PutVM",
    "UpdateVM",
    "DeleteVM",
    "LowCostGetVM",
    "HighCostGetVM",
    "GetOperation",
    "VMGuestPatch",
    "VMSSPut",
    "VMSSUpdate",
    "VMSSDelete",
    "VMSSLowCostGet",
    "VMSSHighCostGet",
    "UpdateVMSSVMs",
    "DeleteVMSSVMs",
    "GetVMSSVMs",
]


class ComputePolicy(StrictModel):
    """Override of one Compute policy's per-resource and/or per-subscription bucket."""

    resource: ComputeBucket | None = None
    subscription: ComputeBucket | None = None


class ArmThrottling(StrictModel):
    """ARM token buckets per subscription and principal; ``global_multiplier`` times these is the
    subscription-wide limit."""

    reads: ArmBucket = ArmBucketModel(capacity=250, refill_per_s=25)
    writes: ArmBucket = ArmBucketModel(capacity=200, refill_per_s=10)
    deletes: ArmBucket = ArmBucketModel(capacity=200, refill_per_s=10)
    global_multiplier: PositiveFloat = 15.0


class ResourceGraphThrottling(StrictModel):
    """Per-principal quota: ``queries`` per ``window`` seconds."""

    queries: PositiveInt = 15
    window: PositiveFloat = 5.0


class Throttling(StrictModel):
    """Azure's published limits; ``compute`` lists only the policies whose numbers change.

    ``headers`` is the dialect of Compute's ``x-ms-ratelimit-remaining-resource`` header
    (``current``, ``windowed`` or ``none``; see ``fleet.sim.throttle_headers``) and
    ``headers_missing`` the share of Compute responses that carry none. Neither changes a limit.
    """

    enabled: bool = True
    arm: ArmThrottling = ArmThrottling()
    compute: dict[ComputePolicyName, ComputePolicy] = {}
    resource_graph: ResourceGraphThrottling = ResourceGraphThrottling()
    headers: Literal["current", "windowed", "none"] = "current"
    headers_missing: Fraction = 0.0

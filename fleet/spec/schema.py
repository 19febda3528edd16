"""The job-spec YAML schema (pydantic v2, every model ``extra="forbid"``) and its scalar parsers.

This is the edge: plain data in (from YAML or from CLI flags), validated models out.
``fleet.spec.build`` turns the models into frozen ``fleet.model`` objects (reading script files and
environment variables on the way). Validators raise ``ValueError`` with a message that says
what is wrong and how to fix it; they never echo a secret (protected parameters, passwords, the
query of a SAS URI). Shape of a job file::

    name: health-check                # [a-z0-9-]; the run command is named "fleet-<name>"
    description: ...
    mode: managed                     # or action: the older POST .../runCommand (README)
    targets:                          # at least one criterion, or ``all: true``
      subscriptions: [GUID, ...]      # default: every subscription the connection can see
      tags: {env: prod, role: [web, api], owner: null}   # AND across keys, OR within a list;
                                                         # null or [] = key present, any value
      resource_groups: [rg-web]
      names: ["web-*", "db-0?"]       # globs (fnmatch)
      query: "Resources | where ..."  # Resource Graph KQL
      include_scale_sets: true        # Uniform instances and Flexible members (default true)
      exclude: {names: [...], tags: {...}}
    script:
      inline: |                       # or file: (relative to the job file), uri:, command_id:
        ...
      linux: {file: scripts/x.sh}     # optional per-OS variants, chosen per target
      windows: {file: scripts/x.ps1}
      parameters: {NAME: value}       # or [{name: NAME, value: v}]; name "" = positional (Linux)
      protected_parameters: {TOKEN: {env: TOKEN_VAR}}   # secrets only ever come from env
      run_as: {user: deploy, password: {env: DEPLOY_PW}}
      timeout: 10m                    # 600, "90s", "10m", "1h", "1h30m"; 1s..24h, 0 = none
      success_exit_codes: [0, 100]    # exit codes that count as Succeeded (default [0])
    max_concurrency: 50               # or "10%"
    rollout:                          # optional; every field and its meaning: README
      batches: [1, 5, "10%", "100%"]  # order, seed, max_errors, count_platform_failures,
      health_gate: {name: ok, script: {inline: "..."}, expect_output: "OK"}
                                      # pause_between_batches, deadline, cancel_grace,
                                      # cancel_running, confirm_over ("Rolling out")
      cleanup: keep-last              # or delete-on-success, always ("What fleet leaves ...")
      pending_timeout: 26m            # Pending this long (agent not ready) = AgentNotReady
      reboot: if-required             # never (default), if-required or always ("Reboots")
      reboot_exit_codes: [100]        # "required" = one of these (also success exit codes) ...
      reboot_marker: 'REBOOT REQUIRED'   # ... or this regex matching a line of the output
      reboot_timeout: 15m             # restarted and not back (running, agent Ready) = failure
    schedule: {every: 15m}            # scheduled checks (fleet serve): schedule, expect and
    expect: {output: "OK"}            # alerts — see fleet.spec.checks
    alerts: {webhooks: [{url: {env: HOOK_URL}}]}
    output:                           # optional: full outputs through append blobs
      storage: {account_url: https://ACCOUNT.blob.core.windows.net, container: NAME}
      completion: arm                 # or storage; keep_days, max_bytes_per_target: see
                                      # fleet.spec.output
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    Tag,
    field_validator,
    model_validator,
)

from fleet.model import REBOOT_TIMEOUT_S, Cleanup, Mode, Reboot
from fleet.model.rollout import PENDING_TIMEOUT_S
from fleet.spec.checks import AlertsSection, ExpectSection, ScheduleSection
from fleet.spec.fields import EnvRef, StrictModel
from fleet.spec.output import Output
from fleet.spec.values import (
    COMMAND_ID,
    BatchSize,
    CleanupValue,
    ConcurrencyValue,
    Deadline,
    Duration,
    ExitCode,
    Glob,
    JobName,
    ListParamName,
    MaxErrors,
    ModeValue,
    NonBlank,
    OrderValue,
    ParamName,
    ParamValue,
    Pause,
    PendingTimeout,
    RebootTimeout,
    RebootValue,
    Regex,
    ResourceGroupName,
    SubscriptionId,
    TagFilter,
)


class Exclude(StrictModel):
    """Targets to leave out even if they match: by name glob or by tags (same tag rules)."""

    names: list[Glob] = []
    tags: TagFilter = {}


class Targets(StrictModel):
    """Which VMs and scale-set instances to run on. Criteria combine with AND."""

    all: StrictBool = False
    subscriptions: list[SubscriptionId] = []
    tags: TagFilter = {}
    resource_groups: list[ResourceGroupName] = []
    names: list[Glob] = []
    query: NonBlank | None = None
    include_scale_sets: StrictBool = True
    exclude: Exclude = Exclude()

    @model_validator(mode="after")
    def _narrowed(self) -> Targets:
        criteria = bool(self.tags or self.resource_groups or self.names or self.query)
        if self.all and criteria:
            raise ValueError("all: true selects everything — remove it or the other criteria")
        if not (self.all or criteria):
            message = (
                "this would select every VM you can see — add targets.tags/names/"
                "resource_groups/query, or set targets.all: true"
            )
            raise ValueError(message)
        return self


class Source(StrictModel):
    """Exactly one of ``inline`` (script text), ``file`` (path relative to the job file),
    ``uri`` (https; a SAS token in it is kept secret) or ``command_id`` (a built-in command)."""

    inline: NonBlank | None = None
    file: NonBlank | None = None
    uri: NonBlank | None = None
    command_id: NonBlank | None = None

    def given(self) -> list[str]:
        return [k for k in ("inline", "file", "uri", "command_id") if getattr(self, k)]

    @field_validator("command_id")
    @classmethod
    def _builtin(cls, value: str | None) -> str | None:
        # Whether it exists is Azure's catalog's to say, at plan time (fleet.api.command_check).
        if value is not None and not COMMAND_ID.match(value):
            message = (
                f"{value!r} is not a command id — letters, digits, _ . - (e.g. RunShellScript; "
                "`fleet commands --location L` lists them)"
            )
            raise ValueError(message)
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        if len(self.given()) > 1:
            raise ValueError(f"give only one of {', '.join(self.given())}")
        return self


class Variant(Source):
    """A per-OS script (``linux:`` / ``windows:``): exactly one source."""

    @model_validator(mode="after")
    def _not_empty(self) -> Variant:
        if not self.given():
            raise ValueError("give one of inline, file, uri or command_id")
        return self


class ParameterItem(StrictModel):
    """List form of a parameter; ``name: ""`` is an unnamed (positional) parameter on Linux."""

    name: ListParamName
    value: ParamValue


def _params_form(value: Any) -> str | None:
    return "map" if isinstance(value, dict) else "list" if isinstance(value, list) else None


Parameters = Annotated[
    Annotated[dict[ParamName, ParamValue], Tag("map")]
    | Annotated[list[ParameterItem], Tag("list")],
    Discriminator(
        _params_form,
        custom_error_type="parameters_form",
        custom_error_message="parameters are a mapping {NAME: value} or a list of {name, value}",
    ),
]


class RunAs(StrictModel):
    """Run the script as an existing account; the password comes from the environment."""

    user: NonBlank
    password: EnvRef | None = None


class Script(Source):
    """What to run. A top-level source is the default; ``linux``/``windows`` variants win for
    targets of that OS. With only variants, targets of another (or unknown) OS get no script."""

    linux: Variant | None = None
    windows: Variant | None = None
    parameters: Parameters = Field(default_factory=dict)
    protected_parameters: dict[ParamName, EnvRef] = {}
    run_as: RunAs | None = None
    timeout: Duration = 600
    success_exit_codes: Annotated[list[ExitCode], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _has_source(self) -> Script:
        if not (self.given() or self.linux or self.windows):
            message = "no script — give one of inline, file, uri or command_id (or linux/windows)"
            raise ValueError(message)
        return self


class HealthGate(StrictModel):
    """A check between batches: ``script`` must exit ``expect_exit_code`` (and print something
    matching ``expect_output``) on the batch just completed, or on the ``sentinels``."""

    name: JobName = "health"
    script: Script
    expect_exit_code: StrictInt = 0
    expect_output: Regex | None = None
    sentinels: list[Glob] = []

    @field_validator("script")
    @classmethod
    def _one_verdict(cls, script: Script) -> Script:
        if script.success_exit_codes is not None:
            message = "a gate's verdict is expect_exit_code, not script.success_exit_codes"
            raise ValueError(message)
        return script


Gates = Annotated[
    Annotated[HealthGate, Tag("one")] | Annotated[list[HealthGate], Tag("list")],
    Discriminator(
        lambda v: "list" if isinstance(v, list) else "one" if isinstance(v, dict) else None,
        custom_error_type="gates_form",
        custom_error_message="health_gate is a mapping (one gate) or a list of them",
    ),
]


class Rollout(StrictModel):
    """How the run proceeds: batches, order, error budget, gates, deadline, stop behaviour."""

    max_concurrency: ConcurrencyValue | None = None
    batches: Annotated[list[BatchSize], Field(min_length=1)] | None = None
    order: OrderValue | None = None
    seed: StrictInt = 0
    max_errors: MaxErrors | None = None
    count_platform_failures: StrictBool = False
    pause_between_batches: Pause = 0
    health_gate: Gates | None = None
    deadline: Deadline | None = None
    cancel_grace: Pause = 300
    cancel_running: StrictBool = False
    confirm_over: Annotated[StrictInt, Field(ge=0)] = 10
    cleanup: CleanupValue = Cleanup.KEEP_LAST
    pending_timeout: PendingTimeout = PENDING_TIMEOUT_S
    reboot: RebootValue = Reboot.NEVER
    reboot_exit_codes: list[StrictInt] = []
    reboot_marker: Regex | None = None
    reboot_timeout: RebootTimeout = REBOOT_TIMEOUT_S

    def gates(self) -> list[HealthGate]:
        gate = self.health_gate
        return [] if gate is None else [gate] if isinstance(gate, HealthGate) else list(gate)

    @model_validator(mode="after")
    def _distinct_gates(self) -> Rollout:
        names = [g.name for g in self.gates()]
        if len(set(names)) != len(names):
            raise ValueError("health gates need distinct names (name: ...)")
        return self


class Job(StrictModel):
    """A job file: ``name``, ``description``, ``mode``, ``targets``, ``script``,
    ``max_concurrency``, ``rollout``, ``output`` (full outputs, ``fleet.spec.output``) and, for
    scheduled checks, ``schedule``, ``expect`` and ``alerts`` (``fleet.spec.checks``)."""

    name: JobName
    description: str = ""
    mode: ModeValue = Mode.MANAGED
    targets: Targets
    script: Script
    max_concurrency: ConcurrencyValue | None = None
    rollout: Rollout = Rollout()
    schedule: ScheduleSection | None = None
    expect: ExpectSection | None = None
    alerts: AlertsSection | None = None
    output: Output | None = None

    @model_validator(mode="after")
    def _one_concurrency(self) -> Job:
        if self.max_concurrency is not None and self.rollout.max_concurrency is not None:
            message = "max_concurrency is given twice (top level and rollout) — keep one"
            raise ValueError(message)
        return self

    @model_validator(mode="before")
    @classmethod
    def _targets_required(cls, data: Any) -> Any:
        # A missing ``targets`` must not silently mean "everything": validate it as empty.
        if isinstance(data, dict) and "targets" not in data:
            data = {**data, "targets": {}}
        return data

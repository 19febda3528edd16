"""fleet's core vocabulary: targets, the parsed job spec, per-target outcomes and the run report.

Frozen dataclasses and StrEnums only; no I/O, no Azure SDK types (Azure's camelCase stays in
``fleet.azure``). Secret values are wrapped in :class:`Secret` so they never print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from fleet.rollout.policy import RolloutPolicy, RolloutRecord


class Secret:
    """A secret string: ``str()``/``repr()`` show ``***``; ``reveal()`` is the only way in."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class TargetKind(StrEnum):
    VM = "vm"
    VMSS_UNIFORM = "vmss-uniform"  # addressed as {vmss}/virtualMachines/{instanceId}
    VMSS_FLEXIBLE = "vmss-flexible"  # an ordinary VM that belongs to a scale set


@dataclass(frozen=True)
class Target:
    """One VM or scale-set instance a run command can be sent to."""

    id: str  # ARM id of the VM or VMSS VM
    name: str
    kind: TargetKind
    subscription: str
    resource_group: str
    location: str
    zone: str | None = None
    os: str | None = None  # "linux" | "windows" | None (unknown)
    power_state: str | None = None  # "running", "deallocated", ... None = not checked
    scale_set: str | None = None  # VMSS name for both Uniform and Flexible
    instance_id: str | None = None  # Uniform instance id
    fault_domain: int | None = None
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)


@dataclass(frozen=True)
class TagMatch:
    """AND across keys, OR within a key's values; an empty ``values`` means "key present"."""

    key: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selector:
    subscriptions: tuple[str, ...] = ()
    tags: tuple[TagMatch, ...] = ()
    resource_groups: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # globs
    query: str | None = None  # Resource Graph KQL (Resources table)
    include_scale_sets: bool = True
    exclude_names: tuple[str, ...] = ()
    exclude_tags: tuple[TagMatch, ...] = ()


class SourceKind(StrEnum):
    INLINE = "script"
    URI = "scriptUri"
    COMMAND_ID = "commandId"


@dataclass(frozen=True)
class ScriptSource:
    kind: SourceKind
    value: str  # the script text, the URI or the command id

    def __repr__(self) -> str:
        # a script URI may carry a SAS token and a script may embed credentials: never print them
        shown = self.value if self.kind is SourceKind.COMMAND_ID else f"<{len(self.value)} chars>"
        return f"ScriptSource({self.kind.value}={shown})"


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str | Secret


@dataclass(frozen=True)
class ScriptSpec:
    default: ScriptSource | None  # used when there is no per-OS variant for a target
    linux: ScriptSource | None = None
    windows: ScriptSource | None = None
    parameters: tuple[Parameter, ...] = ()
    protected_parameters: tuple[Parameter, ...] = ()
    run_as_user: str | None = None
    run_as_password: Secret | None = None
    timeout_s: int = 600

    def source_for(self, os: str | None) -> ScriptSource | None:
        if os == "linux" and self.linux is not None:
            return self.linux
        if os == "windows" and self.windows is not None:
            return self.windows
        return self.default


@dataclass(frozen=True)
class Concurrency:
    """A fixed number or a percentage of the selected targets; None = as many as Azure allows."""

    count: int | None = None
    percent: float | None = None

    def resolve(self, total: int) -> int:
        if self.count is not None:
            return max(1, self.count)
        if self.percent is not None:
            return max(1, int(total * self.percent / 100))
        return max(1, total)


@dataclass(frozen=True)
class JobSpec:
    name: str
    selector: Selector
    script: ScriptSpec
    concurrency: Concurrency = Concurrency()
    source: str = "<flags>"  # the file the spec came from, for messages
    # batches, error budget, gates, deadline, cancel
    rollout: RolloutPolicy = field(default_factory=RolloutPolicy)


class Status(StrEnum):
    """Final per-target outcome: Azure's execution states plus fleet's own."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"  # the script ran and exited non-zero
    TIMED_OUT = "TimedOut"  # Azure stopped it at timeoutInSeconds (or the agent never picked it up)
    CANCELED = "Canceled"
    SKIPPED = "Skipped"  # not attempted (e.g. VM not running); reason says why
    ACCESS_DENIED = "AccessDenied"
    NOT_FOUND = "NotFound"
    CONFLICT = "Conflict"
    THROTTLED_OUT = "ThrottledOut"  # still throttled when the run's deadline came
    WEDGED = "Wedged"  # still Running past its timeout plus grace
    ERROR = "Error"  # platform or fleet error; reason says which
    NOT_STARTED = "NotStarted"


SUCCESS_STATUSES = frozenset({Status.SUCCEEDED})


@dataclass(frozen=True)
class TargetResult:
    target: Target
    status: Status
    reason: str | None = None
    exit_code: int | None = None
    output: str = ""
    error: str = ""
    execution_state: str | None = None  # Azure's executionState, verbatim
    started_at: datetime | None = None
    ended_at: datetime | None = None
    attempts: int = 0  # PUTs sent for this target (including retries)
    polls: int = 0  # GETs sent for this target


@dataclass(frozen=True)
class ArmCounters:
    """What the run cost in ARM requests."""

    requests: dict[str, int] = field(default_factory=dict)  # kind ("reads"/"writes"/...) -> count
    throttled: int = 0  # 429s received
    throttle_wait_s: float = 0.0  # time requests spent waiting on local buckets or Retry-After
    retries: int = 0


@dataclass(frozen=True)
class RunReport:
    run_id: str
    job: str
    started_at: datetime
    finished_at: datetime
    results: tuple[TargetResult, ...]
    arm: ArmCounters
    # completed | halted-by-error-budget | halted-by-gate | deadline | canceled
    ended: str = "completed"
    ended_detail: str | None = None  # e.g. which gate tripped, after which batch
    rollout: RolloutRecord | None = None


@dataclass(frozen=True)
class Progress:
    """A snapshot of a run in flight, for progress displays (emitted by the engine)."""

    total: int  # selected targets
    skipped: int = 0  # decided without a write (not running, excluded by preflight)
    launched: int = 0  # run command accepted by Azure
    running: int = 0  # launched and not yet final
    succeeded: int = 0
    failed: int = 0  # every final status other than Succeeded and Skipped
    throttled: int = 0  # 429s received so far
    throttle_wait_s: float = 0.0
    elapsed_s: float = 0.0

    @property
    def done(self) -> int:
        return self.skipped + self.succeeded + self.failed


@dataclass(frozen=True)
class Invocation:
    """What one managed run command PUT carries for one target (built per target OS)."""

    run_command: str  # resource name, stable per job so reruns update instead of piling up
    run_id: str  # passed as parameter FLEET_RUN_ID so a rerun really re-executes
    source: ScriptSource
    parameters: tuple[Parameter, ...] = ()
    protected_parameters: tuple[Parameter, ...] = ()
    run_as_user: str | None = None
    run_as_password: Secret | None = None
    timeout_s: int = 600


@dataclass(frozen=True)
class RunView:
    """A run command's state as Azure reports it (instance view)."""

    execution_state: str  # Unknown | Pending | Running | Failed | Succeeded | TimedOut | Canceled
    provisioning_state: str | None = None
    exit_code: int | None = None
    output: str = ""
    error: str = ""
    message: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    run_id: str | None = None  # the FLEET_RUN_ID parameter found on the resource

    @property
    def terminal(self) -> bool:
        return self.execution_state in ("Succeeded", "Failed", "TimedOut", "Canceled")


@dataclass(frozen=True)
class CallError:
    """An ARM call that did not succeed: HTTP status (0 = no response) and ARM error code."""

    status: int
    code: str
    message: str

    @property
    def transient(self) -> bool:
        return self.status in (0, 408, 500, 502, 503, 504)

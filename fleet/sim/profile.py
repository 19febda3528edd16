"""The fleet profile: a YAML description of a simulated Azure estate, parsed into frozen models.

A profile says which subscriptions, resource groups, VMs and scale sets exist, who may call the
emulator (bearer tokens and RBAC), how run commands behave, and which faults and limits apply.
``load_profile`` reads YAML and reports every problem as ``file:line: field.path: message``
in one ``ProfileError``. Semantic checks that span fields live in ``fleet.sim.profile_checks``;
the script, fault and throttling sections in ``fleet.sim.profile_sections``; ``run_commands``
(the run-command service's rules, run commands already on the VMs) in
``fleet.sim.profile_runcommands``; ``background`` (other clients' load) in
``fleet.sim.profile_background``.

Example (see the built-in profiles in fleet/sim/profiles/, loaded by ``fleet.sim.catalog``)::

    name: demo
    seed: 42
    subscriptions:
      - id: 11111111-1111-1111-1111-111111111111
        name: prod
        resource_groups:
          - name: rg-web
            location: eastus
            vms:
              - {count: 40, name: "web-{i:03d}", zones: ["1", "2", "3"], tags: {env: prod}}
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, NonNegativeInt, PlainValidator, ValidationError, field_validator

from fleet.sim import profile_yaml
from fleet.sim.profile_background import BackgroundSection
from fleet.sim.profile_checks import cross_check
from fleet.sim.profile_ops import ActionSettings, RestartSettings
from fleet.sim.profile_runcommands import RunCommandsSection
from fleet.sim.profile_sections import (
    Faults,
    Fraction,
    Guid,
    ScriptSettings,
    StrictModel,
    Text,
    Throttling,
    Weight,
    check_weights,
    scalar_to_text,
)

OsName = Literal["linux", "windows"]
#: Stable power states a profile may give a VM (transitions are the emulator's business).
PowerName = Literal["running", "stopped", "deallocated"]
T = TypeVar("T")
RoleName = Literal["Reader", "Contributor", "VirtualMachineContributor", "None"]

_VM_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9_])?$")
_RG_NAME = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
_SCOPE = re.compile(r"^/subscriptions/[^/]+(?:/resourceGroups/[^/]+(?:/providers/.+)?)?$", re.I)


def _zone(value: Any) -> str:
    text = scalar_to_text(value)
    if not isinstance(text, str) or text not in ("1", "2", "3"):
        raise ValueError(f'a zone is "1", "2" or "3" (got {value!r})')
    return text


#: An availability zone: "1", "2" or "3".
Zone = Annotated[str, PlainValidator(_zone)]


def _tag_value(value: Any) -> str | dict[str, float]:
    if isinstance(value, dict):
        weights: dict[str, float] = {}
        for key, weight in value.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                raise ValueError(f"weight of {key!r} must be a number >= 0 (got {weight!r})")
            weights[str(scalar_to_text(key))] = float(weight)
        return check_weights(weights)
    text = scalar_to_text(value)
    if not isinstance(text, str):
        raise ValueError(f"a tag value is text or a {{value: weight}} mapping (got {value!r})")
    return text


#: A tag value, or a weighted distribution of values (``{gold: 0.2, silver: 0.8}``).
TagValue = Annotated[str | dict[str, float], PlainValidator(_tag_value)]


@dataclass(frozen=True)
class ResolvedSettings:
    """A VM group's settings after applying ``defaults``: everything concrete."""

    os_mix: dict[OsName, float]
    vm_size: str
    power_states: dict[PowerName, float]
    agent_not_ready: float
    wedged: float


def _first_set(mine: T | None, inherited: T) -> T:
    return inherited if mine is None else mine


class GroupSettings(StrictModel):
    """Settings every VM group and scale set may override (unset = take ``defaults``).

    ``os`` or ``os_mix`` (weights, e.g. ``{linux: 0.8, windows: 0.2}``), ``vm_size``,
    ``power_states`` (weights over running / stopped / deallocated), ``agent_not_ready``
    (fraction of running VMs whose guest agent is not ready: run commands never start) and
    ``wedged`` (fraction of VMs whose run commands stay Running forever). Fractions are
    apportioned per group, so 2% of 500 VMs is 10 VMs, not "about 10".
    """

    os: OsName | None = None
    os_mix: dict[OsName, Weight] | None = None
    vm_size: Text | None = None
    power_states: dict[PowerName, Weight] | None = None
    agent_not_ready: Fraction | None = None
    wedged: Fraction | None = None

    @field_validator("os_mix", "power_states")
    @classmethod
    def _weights(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return None if value is None else check_weights(value)

    def resolve(self, defaults: Defaults) -> ResolvedSettings:
        if self.os is not None:
            os_mix: dict[OsName, float] = {self.os: 1.0}
        elif self.os_mix is not None:
            os_mix = dict(self.os_mix)
        else:
            os_mix = defaults.os_mix_or_default()
        return ResolvedSettings(
            os_mix=os_mix,
            vm_size=_first_set(self.vm_size, defaults.vm_size),
            power_states=dict(_first_set(self.power_states, defaults.power_states)),
            agent_not_ready=_first_set(self.agent_not_ready, defaults.agent_not_ready),
            wedged=_first_set(self.wedged, defaults.wedged),
        )


class Defaults(GroupSettings):
    """Settings for every VM group unless it overrides them (OS defaults to linux)."""

    vm_size: Text = "Standard_D2s_v5"
    power_states: dict[PowerName, Weight] = {"running": 1.0}
    agent_not_ready: Fraction = 0.0
    wedged: Fraction = 0.0

    def os_mix_or_default(self) -> dict[OsName, float]:
        if self.os is not None:
            return {self.os: 1.0}
        return dict(self.os_mix) if self.os_mix is not None else {"linux": 1.0}


class VmGroup(GroupSettings):
    """``count`` VMs named by the ``name`` pattern, ``{i}`` running from ``start`` (default 1):
    ``web-{i:03d}`` gives web-001, web-002, ... Zones are used round-robin. ``location``
    defaults to the resource group's. A tag value may be a distribution (apportioned)."""

    count: NonNegativeInt = 1
    name: str
    start: NonNegativeInt = 1
    location: Text | None = None
    zones: list[Zone] = []
    tags: dict[Text, TagValue] = {}

    @field_validator("name")
    @classmethod
    def _pattern(cls, value: str) -> str:
        return check_name_pattern(value)

    def names(self) -> list[str]:
        return [self.name.format(i=i) for i in range(self.start, self.start + self.count)]


class ScaleSet(GroupSettings):
    """A VM scale set of ``capacity`` instances. Uniform instances are ``{name}_{0..n-1}``;
    Flexible members are ordinary VMs named ``{name}_{8 hex}``. One OS per scale set (drawn
    from ``os_mix`` if given); tags apply to the scale set and all its instances."""

    name: str
    mode: Literal["Uniform", "Flexible"] = "Uniform"
    capacity: NonNegativeInt
    location: Text | None = None
    zones: list[Zone] = []
    tags: dict[Text, TagValue] = {}
    platform_fault_domain_count: Annotated[int, Field(ge=1, le=5)] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _VM_NAME.match(value):
            raise ValueError(f"not a valid scale set name: {value!r}")
        return value


class ResourceGroup(StrictModel):
    """A resource group in ``location`` (e.g. eastus) with VM groups and scale sets."""

    name: str
    location: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*$")]
    tags: dict[Text, Text] = {}
    vms: list[VmGroup] = []
    scale_sets: list[ScaleSet] = []

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _RG_NAME.match(value):
            raise ValueError(f"not a valid resource group name: {value!r}")
        return value


class Subscription(StrictModel):
    """A subscription: ``id`` (a GUID), display ``name``, resource groups."""

    id: Guid
    name: str
    resource_groups: list[ResourceGroup] = []


class Override(StrictModel):
    """Force attributes on targets whose name matches a glob in ``names`` (case-insensitive;
    Uniform instances are named ``{scale set}_{instance id}``). Later overrides win."""

    names: Annotated[list[str], Field(min_length=1)]
    power_state: PowerName | None = None
    agent: Literal["ready", "not_ready"] | None = None
    script: Literal["wedged", "normal"] | None = None
    outcome: str | None = None


class RoleAssignment(StrictModel):
    """``role`` at ``scope`` ("/", a subscription, a resource group or a resource id)."""

    scope: str
    role: RoleName

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        if value != "/" and not _SCOPE.match(value):
            raise ValueError(
                'a scope is "/", "/subscriptions/<id>" or "/subscriptions/<id>/resourceGroups/<rg>"'
            )
        return value


class DenyAssignment(StrictModel):
    """Like an Azure deny assignment: ``actions`` are refused at ``scope`` and below, whatever
    roles grant (e.g. a resource group where the operator may only read)."""

    scope: str
    actions: Annotated[list[Literal["read", "write", "delete", "action"]], Field(min_length=1)] = [
        "write",
        "delete",
        "action",
    ]

    _scope = field_validator("scope")(RoleAssignment._scope.__func__)  # type: ignore[attr-defined]


def _operator_roles() -> list[RoleAssignment]:
    return [RoleAssignment(scope="/", role="Contributor")]


class Principal(StrictModel):
    """A caller: the bearer ``token`` the emulator accepts for it, its role assignments and
    deny assignments. As in Azure RBAC, roles add up over a scope and its ancestors (no
    assignment means no access) and a deny assignment beats every role."""

    name: str
    token: Annotated[str, Field(pattern=r"^\S+$")]
    roles: list[RoleAssignment] = Field(default_factory=_operator_roles)
    deny: list[DenyAssignment] = []


def _default_principals() -> list[Principal]:
    return [Principal(name="operator", token="fleet-sim-token")]


class Profile(StrictModel):
    """A whole simulated estate. ``seed`` makes generation reproducible; ``tenant_id`` is
    generated from it when not given."""

    name: str
    description: str = ""
    seed: int = 0
    tenant_id: Guid | None = None
    principals: list[Principal] = Field(default_factory=_default_principals)
    defaults: Defaults = Defaults()
    subscriptions: Annotated[list[Subscription], Field(min_length=1)]
    overrides: list[Override] = []
    script: ScriptSettings = ScriptSettings()
    faults: Faults = Faults()
    throttling: Throttling = Throttling()
    restart: RestartSettings = RestartSettings()
    action: ActionSettings = ActionSettings()
    run_commands: RunCommandsSection = RunCommandsSection()
    background: BackgroundSection = BackgroundSection()

    def target_count(self) -> int:
        """How many run-command targets the profile describes (VMs + scale-set instances)."""
        return sum(
            sum(g.count for g in rg.vms) + sum(s.capacity for s in rg.scale_sets)
            for sub in self.subscriptions
            for rg in sub.resource_groups
        )


def check_name_pattern(pattern: str) -> str:
    """A VM name pattern may use only ``{i}`` (with a format spec) and must give valid names."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
        sample = pattern.format(i=1)
    except (ValueError, KeyError, IndexError) as exc:
        raise ValueError(f"bad name pattern {pattern!r}: only {{i}} may be used ({exc})") from exc
    if any(f != "i" for f in fields):
        raise ValueError(f"bad name pattern {pattern!r}: only {{i}} may be used")
    if not _VM_NAME.match(sample):
        message = f"{sample!r} is not a valid VM name (letters, digits, '.', '_', '-'; max 64)"
        raise ValueError(message)
    return pattern


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a profile; ``line`` is 1-based, None when unknown."""

    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ProfileError(Exception):
    """A profile that cannot be used; ``problems`` lists every error found, one per line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """Read and validate a YAML profile; raise ``ProfileError`` naming file, line and field."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        problem = Problem(source, None, "", f"cannot read profile: {exc.strerror or exc}")
        raise ProfileError([problem]) from None
    return parse_profile_text(text, source)


def parse_profile_text(text: str, source: str) -> Profile:
    """Validate a profile's YAML text; ``source`` names it in every problem."""
    try:
        data, node = profile_yaml.parse(text)
    except profile_yaml.YamlProblem as exc:
        loc = profile_yaml.format_loc(exc.loc)
        raise ProfileError([Problem(source, exc.line, loc, exc.message)]) from None
    return _validate(data, source, node)


def parse_profile(data: dict[str, Any], source: str = "<dict>") -> Profile:
    """Validate an already-parsed profile (tests, in-process use); errors carry no lines."""
    return _validate(data, source, None)


def _validate(data: Any, source: str, node: Any) -> Profile:
    if not isinstance(data, dict):
        message = "a profile is a mapping of fields (name, subscriptions, ...)"
        raise ProfileError([Problem(source, profile_yaml.line_of(node, ()), "", message)])
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(err, source, node) for err in exc.errors()]
        raise ProfileError(_by_line(problems)) from None
    issues = cross_check(profile)
    if issues:
        line = profile_yaml.line_of
        problems = [
            Problem(source, line(node, loc), profile_yaml.format_loc(loc), message)
            for loc, message in issues
        ]
        raise ProfileError(_by_line(problems))
    return profile


def _by_line(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))


def _problem(err: Any, source: str, node: Any) -> Problem:
    loc = tuple(item for item in err["loc"] if item != "[key]")
    kind, message = err["type"], err["msg"]
    if kind == "extra_forbidden":
        message = "unknown field"
    elif kind == "missing":
        message = "required field is missing"
    else:
        message = message.removeprefix("Value error, ")
        value = err.get("input")
        if isinstance(value, str | int | float | bool) and "(got " not in message:
            message += f" (got {value!r})"
    return Problem(source, profile_yaml.line_of(node, loc), profile_yaml.format_loc(loc), message)

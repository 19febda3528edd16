"""Benchmark scenario files: which simulated fleet, at which time scale and seed, which job, and
each contender's wall-clock budget. Parsed at the edge into a frozen :class:`Scenario`.

A scenario is named like a ``--profile``: a bare name is a built-in (package data in
``fleet/bench/scenarios/``: ``quick``, ``vms-2k``, ``mixed-10k``), anything else a path. Its
``profile:`` field follows the same rule: a built-in profile name, or a path relative to the
scenario file (made absolute here, so the emulator process can run from any directory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
)

from fleet.sim.catalog import BuiltIns, UnknownName, is_name

#: Every contender; a scenario runs ``CONTENDERS`` unless it lists its own (``contenders:``).
#: ``fleet-action`` is fleet in ``mode: action`` (the action run command); ``fleet-storage`` is
#: fleet with ``completion: storage`` (its emulator runs with an Azurite).
KNOWN = ("fleet", "fleet-action", "fleet-storage", "documented", "unbounded")
CONTENDERS = ("fleet", "documented", "unbounded")
SCENARIOS = BuiltIns("fleet.bench", "scenarios", "scenario")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BenchJob(_Strict):
    """The job every contender runs: one inline script, same timeout (Azure-seconds)."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")] = "bench"
    script: str = "#!/bin/sh\nuptime\n"
    timeout: PositiveInt = 900


class Budgets(_Strict):
    """Wall-clock seconds per contender; past it the contender is stopped and extrapolated."""

    fleet: PositiveFloat = 300
    fleet_action: PositiveFloat = Field(
        default=300, validation_alias=AliasChoices("fleet-action", "fleet_action")
    )
    fleet_storage: PositiveFloat = Field(
        default=300, validation_alias=AliasChoices("fleet-storage", "fleet_storage")
    )
    documented: PositiveFloat = 90
    unbounded: PositiveFloat = 300


class Scenario(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    description: str = ""
    profile: str  # a built-in profile name or an absolute path
    time_scale: PositiveFloat
    seed: int
    job: BenchJob = BenchJob()
    budgets: Budgets = Budgets()
    contenders: tuple[str, ...] = CONTENDERS
    # the emulator's Compute header dialect (``fleet sim serve --throttle-headers``), if not the
    # profile's; and other clients' load, a ``/_sim/background`` body posted as each contender
    # starts (its loads start then: the throttle bound for what they leave is in the row)
    throttle_headers: Literal["current", "windowed", "none"] | None = None
    background: dict[str, Any] | None = None
    source: str = "<dict>"  # the scenario's built-in name or file path

    def budget(self, contender: str) -> float:
        return float(getattr(self.budgets, contender.replace("-", "_")))


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message names the file and the field."""


def _read(ref: str | Path) -> tuple[str, Path, Any]:
    """(how to name it, the folder its relative paths start from, the parsed YAML)."""
    try:
        if is_name(ref):
            found = SCENARIOS.file(str(ref))
            source, folder, text = str(ref), Path(str(found)).parent, found.read_text("utf-8")
        else:
            path = Path(ref)
            source, folder, text = str(path), path.parent, path.read_text(encoding="utf-8")
        return source, folder, yaml.safe_load(text)
    except UnknownName as exc:
        raise ScenarioError(str(exc)) from None
    except (OSError, yaml.YAMLError) as exc:
        message = f"{ref}: cannot read scenario: {exc}"
        raise ScenarioError(message) from None


def load_scenario(ref: str | Path) -> Scenario:
    """A scenario by built-in name (``quick``) or path; ``ScenarioError`` names file and field."""
    path, folder, data = _read(ref)
    if not isinstance(data, dict):
        message = f"{path}: a scenario is a mapping (name, profile, time_scale, seed, job, ...)"
        raise ScenarioError(message)
    profile = data.get("profile")
    if profile is not None and not is_name(str(profile)):
        data["profile"] = str((folder / str(profile)).resolve())
    try:
        scenario = Scenario.model_validate({**data, "source": path})
    except ValidationError as exc:
        lines = [f"{path}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ScenarioError("\n".join(lines)) from None
    unknown = [c for c in scenario.contenders if c not in KNOWN]
    if unknown:
        message = f"{path}: contenders: unknown {unknown}; choose from {list(KNOWN)}"
        raise ScenarioError(message)
    return scenario

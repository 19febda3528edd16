"""Benchmark scenario files (``configs/bench/*.yaml``): which simulated fleet, at which time scale
and seed, which job, and each contender's wall-clock budget. Parsed at the edge into a frozen
:class:`Scenario`; the profile path is relative to the scenario file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, ValidationError

CONTENDERS = ("fleet", "documented", "unbounded")


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
    documented: PositiveFloat = 90
    unbounded: PositiveFloat = 300


class Scenario(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    description: str = ""
    profile: Path
    time_scale: PositiveFloat
    seed: int
    job: BenchJob = BenchJob()
    budgets: Budgets = Budgets()
    contenders: tuple[str, ...] = CONTENDERS
    source: Path = Path("<dict>")

    def budget(self, contender: str) -> float:
        return float(getattr(self.budgets, contender))


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message names the file and the field."""


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        message = f"{path}: cannot read scenario: {exc}"
        raise ScenarioError(message) from None
    if not isinstance(data, dict):
        message = f"{path}: a scenario is a mapping (name, profile, time_scale, seed, job, ...)"
        raise ScenarioError(message)
    if "profile" in data:
        data["profile"] = str((path.parent / str(data["profile"])).resolve())
    try:
        scenario = Scenario.model_validate({**data, "source": str(path)})
    except ValidationError as exc:
        lines = [f"{path}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ScenarioError("\n".join(lines)) from None
    unknown = [c for c in scenario.contenders if c not in CONTENDERS]
    if unknown:
        message = f"{path}: contenders: unknown {unknown}; choose from {list(CONTENDERS)}"
        raise ScenarioError(message)
    return scenario

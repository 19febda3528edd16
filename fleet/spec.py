"""Job specs: a YAML job file or ad-hoc CLI flags → a frozen, validated ``fleet.model.JobSpec``.

The edge of fleet's configuration. ``load_job_spec`` reads a job file (schema and examples in
``fleet.spec_schema`` and ``configs/jobs/``); ``job_spec_from_options`` takes the CLI's
:class:`JobOptions`. Both go through one pydantic schema and ``fleet.spec_build``, so the same
job written either way gives an equal spec. Every problem found is reported at once in one
``SpecError`` (exit code 2, nothing sent to Azure), one line each::

    configs/jobs/x.yaml:7: script.timeout: '10 minutes' is not a duration — use 600, "90s", ...

Messages never contain a secret: protected parameter values, the run-as password, a SAS token.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from fleet.errors import SpecError
from fleet.model import JobSpec
from fleet.spec_build import BuildContext, build_job_spec
from fleet.spec_flags import (
    JobOptions,
    RolloutOptions,
    flag_for,
    options_to_data,
    reword_for_flags,
)
from fleet.spec_schema import (
    EnvRef,
    Exclude,
    HealthGate,
    Job,
    ParameterItem,
    Rollout,
    RunAs,
    Script,
    Targets,
    Variant,
)
from fleet.spec_values import format_duration
from fleet.spec_values import parse_duration as _parse_duration
from fleet.util import yamlpos

__all__ = [
    "JobOptions",
    "RolloutOptions",
    "format_duration",
    "job_spec_from_options",
    "load_job_spec",
    "parse_duration",
]

Loc = tuple[str | int, ...]
#: Error types whose message already says everything (ours, not pydantic's generic ones).
_OWN_MESSAGES = {"value_error", "parameters_form", "gates_form", "missing", "extra_forbidden"}
#: pydantic's wording for a wrong container, said the way a YAML author thinks of it.
_PLAIN_MESSAGES = {
    "list_type": "must be a list, e.g. [a, b]",
    "dict_type": "must be a mapping, e.g. {key: value}",
    "model_type": "must be a mapping of fields",
    "model_attributes_type": "must be a mapping of fields",
    "string_type": "must be text",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}


@dataclass(frozen=True)
class _Origin:
    """Where the data came from, to turn a field path into ``file:line: field`` or ``--flag``."""

    source: str
    node: yaml.Node | None
    base_dir: Path
    describe: Callable[[Loc], str]
    reword: Callable[[Loc, str], str] = lambda _loc, message: message

    def render(self, problems: list[tuple[Loc, str]]) -> str:
        lines = []
        for loc, message in problems:
            line = yamlpos.line_of(self.node, loc) if self.node is not None else None
            where, message = self.describe(loc), self.reword(loc, message)
            head = self.source if line is None else f"{self.source}:{line}"
            lines.append(
                (line or 0, f"{head}: {where}: {message}" if where else f"{head}: {message}")
            )
        return "\n".join(text for _, text in sorted(lines, key=lambda pair: pair[0]))


def read_spec_text(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        message = f"{path}: cannot read job spec: {reason or exc}"
        raise SpecError(message) from None


def load_job_spec(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    rollout: RolloutOptions | None = None,
    text: str | None = None,
) -> JobSpec:
    """Read and validate a job file; raise ``SpecError`` naming file, line, field and fix.
    ``rollout``: flags that override the file's ``rollout:`` settings one by one. ``text``:
    the file's content as recorded earlier (resume), instead of reading ``path``; relative
    ``file:`` references still resolve against ``path``'s directory."""
    source = str(path)
    overrides = _rollout_overrides(rollout)
    if text is None:
        text = read_spec_text(path)
    try:
        data, node = yamlpos.parse(text)
    except yamlpos.YamlProblem as exc:
        where = yamlpos.format_loc(exc.loc)
        head = source if exc.line is None else f"{source}:{exc.line}"
        message = f"{head}: {where}: {exc.message}" if where else f"{head}: {exc.message}"
        raise SpecError(message) from None
    origin = _Origin(source, node, Path(path).parent, yamlpos.format_loc)
    if overrides and isinstance(data, dict):
        file_rollout = data.get("rollout")
        base = file_rollout if isinstance(file_rollout, dict) else {}
        data = {**data, "rollout": {**base, **overrides}}
    return _build(data, origin, env, [])


def _rollout_overrides(rollout: RolloutOptions | None) -> dict[str, Any]:
    """The rollout flags as data, checked on their own first so errors name the flag."""
    data = rollout.to_data() if rollout is not None else {}
    if data:
        try:
            Rollout.model_validate(data)
        except ValidationError as exc:
            origin = _Origin("<flags>", None, Path.cwd(), flag_for, reword_for_flags)
            wrapped = {"rollout": data}
            problems = [
                _problem({**e, "loc": ("rollout", *e["loc"])}, wrapped) for e in exc.errors()
            ]
            raise SpecError(origin.render(problems)) from None
    return data


def job_spec_from_options(opts: JobOptions, *, env: Mapping[str, str] | None = None) -> JobSpec:
    """Validate ad-hoc CLI flags; errors name the flag (``--timeout: ...``)."""
    data, problems = options_to_data(opts)
    origin = _Origin("<flags>", None, Path.cwd(), flag_for, reword_for_flags)
    return _build(data, origin, env, problems)


def parse_duration(text: str | int) -> int:
    """Seconds from ``600``, ``"90s"``, ``"10m"``, ``"1h"``, ``"1h30m"``; ``SpecError`` if not."""
    try:
        return _parse_duration(text)
    except ValueError as exc:
        raise SpecError(str(exc)) from None


def _build(
    data: Any, origin: _Origin, env: Mapping[str, str] | None, problems: list[tuple[Loc, str]]
) -> JobSpec:
    if not isinstance(data, dict):
        message = "a job spec is a mapping with name, targets and script (see configs/jobs/)"
        raise SpecError(origin.render([((), message)]))
    try:
        job = Job.model_validate(data)
    except ValidationError as exc:
        problems += [_problem(err, data) for err in exc.errors()]
        raise SpecError(origin.render(problems)) from None
    ctx = BuildContext(origin.base_dir, os.environ if env is None else env, problems)
    spec = build_job_spec(job, origin.source, ctx)
    if ctx.problems:
        raise SpecError(origin.render(ctx.problems))
    return spec


def _problem(err: Any, data: Any) -> tuple[Loc, str]:
    kind = err["type"]
    loc = yamlpos.data_loc(data, err["loc"], keep_last=kind == "missing")
    if kind == "extra_forbidden":
        return loc, _unknown_field(loc)
    if kind == "missing":
        return loc, "required field is missing"
    message = _PLAIN_MESSAGES.get(kind) or err["msg"].removeprefix("Value error, ")
    if kind not in _OWN_MESSAGES:
        # pydantic's generic messages ("Input should be a valid list"): say what we got,
        # by type only — the input itself may be a secret.
        message += f" (got {_kind_of(err.get('input'))})"
    return loc, message


def _unknown_field(loc: Loc) -> str:
    key = str(loc[-1]) if loc else ""
    allowed = _allowed_fields(loc[:-1])
    message = f"unknown field {key!r}"
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        message += f" — did you mean {close[0]!r}?"
    if allowed:
        message += f" (allowed: {', '.join(allowed)})"
    return message


def _allowed_fields(parent: Loc) -> list[str]:
    model: type[BaseModel]
    match parent:
        case ("rollout", "health_gate", "script", *rest) | (
            "rollout",
            "health_gate",
            int(),
            "script",
            *rest,
        ):
            return _allowed_fields(("script", *rest))
        case ("rollout",):
            model = Rollout
        case ("rollout", "health_gate") | ("rollout", "health_gate", int()):
            model = HealthGate
        case ():
            model = Job
        case ("targets",):
            model = Targets
        case ("targets", "exclude"):
            model = Exclude
        case ("script",):
            model = Script
        case ("script", "linux" | "windows"):
            model = Variant
        case ("script", "run_as"):
            model = RunAs
        case ("script", "run_as", "password") | ("script", "protected_parameters", _):
            model = EnvRef
        case ("script", "parameters", int()):
            model = ParameterItem
        case _:
            return []
    return list(model.model_fields)


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__

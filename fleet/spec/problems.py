"""Saying what is wrong with a job: validation errors → one line each, ``file:line: field:
message`` for a job file or ``--flag: message`` for CLI flags, sorted by line.

The messages never contain a secret: pydantic's generic ones are reworded to say what was
found by type only (the input itself may be a secret).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from fleet.spec.checks import (
    AlertsSection,
    BlackoutWindow,
    ExpectSection,
    ScheduleSection,
    ValueRule,
    WebhookEntry,
)
from fleet.spec.fields import EnvRef
from fleet.spec.schema import (
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
from fleet.util import yamlpos

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]
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


def _same(_loc: Loc, message: str) -> str:
    return message


@dataclass(frozen=True)
class Origin:
    """Where the data came from, to turn a field path into ``file:line: field`` or ``--flag``."""

    source: str
    node: yaml.Node | None
    base_dir: Path
    describe: Callable[[Loc], str]
    reword: Callable[[Loc, str], str] = _same

    def render(self, problems: list[Problem]) -> str:
        lines = []
        for loc, message in problems:
            line = yamlpos.line_of(self.node, loc) if self.node is not None else None
            where, message = self.describe(loc), self.reword(loc, message)
            head = self.source if line is None else f"{self.source}:{line}"
            lines.append(
                (line or 0, f"{head}: {where}: {message}" if where else f"{head}: {message}")
            )
        return "\n".join(text for _, text in sorted(lines, key=lambda pair: pair[0]))


def problem_of(err: Any, data: Any) -> Problem:
    """One pydantic error as ``(loc, message)``, the loc as the author wrote it."""
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
            return _check_fields(parent)
    return list(model.model_fields)


def _check_fields(parent: Loc) -> list[str]:
    """The fields of the scheduled-check sections (``fleet.spec.checks``)."""
    model: type[BaseModel]
    match parent:
        case ("schedule",):
            model = ScheduleSection
        case ("schedule", "blackout", int()):
            model = BlackoutWindow
        case ("expect",):
            model = ExpectSection
        case ("expect", "values", _):
            model = ValueRule
        case ("alerts",):
            model = AlertsSection
        case ("alerts", "webhooks", int()):
            model = WebhookEntry
        case ("alerts", "webhooks", int(), "url"):
            model = EnvRef
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

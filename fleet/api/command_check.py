"""Checking a job's ``command_id`` against Azure's catalog at plan time: every built-in command
the job (or one of its health gates) would send to a target must exist in the catalog of that
target's location (``GET .../locations/{loc}/runCommands``, one read per subscription and
location) and be a command of the target's OS. Otherwise the plan is refused with a clear
``SpecError`` (exit code 2) before anything is sent.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fleet.errors import SelectionError, SpecError
from fleet.model import BuiltinCommand, CallError, JobSpec, ScriptSpec, SourceKind, Target
from fleet.ports import CommandCatalog


@dataclass(frozen=True)
class _Use:
    where: str  # "script" or "rollout.health_gate 'name'.script"
    command_id: str
    target: Target


def _uses(spec: JobSpec, targets: Iterable[Target]) -> list[_Use]:
    scripts: list[tuple[str, ScriptSpec]] = [("script", spec.script)]
    scripts += [(f"rollout.health_gate {g.name!r} script", g.script) for g in spec.rollout.gates]
    uses = []
    for target in targets:
        for where, script in scripts:
            source = script.source_for(target.os)
            if source is not None and source.kind is SourceKind.COMMAND_ID:
                uses.append(_Use(where, source.value, target))
    return uses


async def check_command_ids(
    spec: JobSpec, targets: Sequence[Target], catalog: CommandCatalog | None
) -> None:
    """Refuse the plan if a ``command_id`` is unknown where a target is, or of another OS."""
    uses = _uses(spec, targets)
    if not uses or catalog is None:
        return
    by_place: dict[tuple[str, str], list[_Use]] = defaultdict(list)
    for use in uses:
        by_place[(use.target.subscription, use.target.location.lower())].append(use)
    problems: list[str] = []
    for (subscription, location), here in sorted(by_place.items()):
        listed = await catalog.commands(subscription, location)
        if isinstance(listed, CallError):
            message = (
                f"could not read the built-in run commands of {location} to check "
                f"command_id {here[0].command_id!r}: {listed.code}: {listed.message}"
            )
            raise SelectionError(message)
        problems += _problems(here, location, listed)
    if problems:
        raise SpecError(f"{spec.source}: " + f"\n{spec.source}: ".join(dict.fromkeys(problems)))


def _problems(uses: list[_Use], location: str, listed: Sequence[BuiltinCommand]) -> list[str]:
    known = {c.id.lower(): c for c in listed}  # ARM matches command ids case-insensitively
    problems = []
    wrong_os: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    for use in uses:
        command = known.get(use.command_id.lower())
        if command is None:
            close = difflib.get_close_matches(use.command_id, [c.id for c in listed], n=1)
            hint = f" — did you mean {close[0]!r}?" if close else ""
            problems.append(
                f"{use.where}.command_id: {use.command_id!r} is not a built-in run command in "
                f"{location}{hint} (see: fleet commands --location {location})"
            )
        elif use.target.os and command.os and command.os != use.target.os:
            wrong_os[(use.where, command.id, command.os, use.target.os)].append(use.target.name)
    for (where, command_id, native, os_name), names in wrong_os.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        problems.append(
            f"{where}.command_id: {command_id} is a {native.capitalize()} command, but "
            f"{len(names)} selected target(s) in {location} run {os_name.capitalize()} "
            f"({shown}) — give a {os_name}: variant or narrow the selection"
        )
    return problems

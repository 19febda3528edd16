"""The built-in run commands Azure lists per location (``BuiltinCommand``): what ``fleet
commands`` shows and what a spec's ``command_id`` is checked against."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuiltinCommand:
    id: str  # e.g. "RunShellScript", "ifconfig", "IPConfig"
    os: str  # "linux" | "windows"
    label: str = ""
    description: str = ""
    script: tuple[str, ...] = ()  # its default script (only a single command's read has it)
    parameters: tuple[str, ...] = ()  # names of the parameters it takes

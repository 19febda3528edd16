"""The small interfaces the engine depends on. ``fleet.azure`` implements them with the real SDK;
tests implement them in memory to unit-test engine logic without HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from fleet.model import CallError, Invocation, RunView, Selector, Target


class TargetSource(Protocol):
    """Finds the targets a selector means, with their power state (bulk reads only)."""

    async def select(self, selector: Selector, *, need_os: bool) -> Sequence[Target]: ...


class RunCommands(Protocol):
    """Managed run commands on one target. Errors are returned, not raised."""

    async def put(self, target: Target, invocation: Invocation) -> CallError | None: ...

    async def get(self, target: Target, run_command: str) -> RunView | CallError: ...

    async def delete(self, target: Target, run_command: str) -> CallError | None: ...


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

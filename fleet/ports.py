"""The small interfaces the engine depends on. ``fleet.azure`` implements them with the real SDK;
tests implement them in memory to unit-test engine logic without HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from fleet.model import CallError, Invocation, RunView, Selector, Target, TargetResult


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


class Recorder(Protocol):
    """Where a run's per-target transitions go (the journal). ``intent`` must be durable when
    it returns: the PUT it announces is sent only afterwards."""

    async def intent(self, target: Target, invocation: Invocation) -> None: ...

    def accepted(self, target: Target) -> None: ...

    def put_failed(self, target: Target, error: CallError, *, arrived: bool | None) -> None: ...

    def final(self, result: TargetResult) -> None: ...


class NullRecorder:
    """Records nothing (a run without a journal)."""

    async def intent(self, target: Target, invocation: Invocation) -> None:
        return None

    def accepted(self, target: Target) -> None:
        return None

    def put_failed(self, target: Target, error: CallError, *, arrived: bool | None) -> None:
        return None

    def final(self, result: TargetResult) -> None:
        return None

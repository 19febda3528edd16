"""An in-memory action run command (``RunCommands`` in ``mode: action``) for engine tests, in
virtual time: one command at a time per VM (a POST while one runs is refused ``busy``, as
Azure's 409), one operation per POST (its handle), the VM's extension status showing the
latest command the agent picked up (whoever sent it: a run of this fake, or another tool's,
``foreign``; one not yet picked up, ``pickup``, leaves the previous one showing), no cancel.
``faults`` per target decide what happens to each POST in turn: ``"before"`` (lost before
Azure saw it) or ``"after"`` (processed, the answer lost).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import anyio

from fleet.model import CallError, Invocation, Launched, RunView, Target

BUSY = CallError(
    409,
    "Conflict",
    "Run command extension execution is in progress. Please wait for completion before "
    "invoking a run command.",
    busy=True,
)
LOST = CallError(0, "ServiceResponseError", "Connection reset by peer")
NOT_CANCELABLE = CallError(405, "NotCancelable", "an action run command cannot be stopped")


@dataclass
class _Run:
    run_id: str | None  # None: another tool's command (its output carries no fleet marker)
    started: float  # when Azure accepted it
    duration: float
    exit_code: int = 0
    pickup: float = 0.0  # until the agent picks it up, the extension shows the previous run

    @property
    def ends(self) -> float:
        return self.started + self.pickup + self.duration

    def view(self, now: float, *, through_extension: bool) -> RunView:
        if now < self.ends:
            return RunView("Running", owner_unknown=through_extension)
        if self.run_id is None:
            return RunView("Failed", owner_unknown=True, message="exit code unknown")
        state = "Succeeded" if self.exit_code == 0 else "Failed"
        return RunView(state, exit_code=self.exit_code, output="ok\n", run_id=self.run_id)


@dataclass
class FakeAction:
    duration: float = 30.0
    exit_code: int = 0
    pickup: float = 0.0
    faults: dict[str, list[str]] = field(default_factory=dict)
    posts: Counter[str] = field(default_factory=Counter)  # POSTs that reached the fake
    executions: Counter[str] = field(default_factory=Counter)  # scripts of fleet's that ran
    reads: Counter[str] = field(default_factory=Counter)
    _runs: dict[str, list[_Run]] = field(default_factory=lambda: defaultdict(list))
    _operations: dict[str, tuple[str, _Run]] = field(default_factory=dict)

    def foreign(self, target: Target, *, started: float, duration: float) -> None:
        """Another tool's action command runs on ``target`` from ``started`` for ``duration``."""
        self._runs[target.name].append(_Run(None, started, duration))

    def ran(self, target: Target, run_id: str, *, started: float = 0.0) -> None:
        """An action command of fleet's run ``run_id`` ran (a POST a crashed process sent)."""
        self._runs[target.name].append(_Run(run_id, started, self.duration, self.exit_code))
        self.executions[target.name] += 1

    def _busy(self, name: str, now: float) -> bool:
        runs = self._runs[name]
        return bool(runs) and now < runs[-1].ends

    async def put(self, target: Target, invocation: Invocation) -> CallError | Launched | None:
        await anyio.lowlevel.checkpoint()
        name, now = target.name, anyio.current_time()
        fault = self.faults.get(name, []).pop(0) if self.faults.get(name) else None
        if fault == "before":
            return LOST
        self.posts[name] += 1
        if self._busy(name, now):
            return BUSY
        run = _Run(invocation.run_id, now, self.duration, self.exit_code, self.pickup)
        self._runs[name].append(run)
        self.executions[name] += 1
        handle = f"https://fake/operations/{name}/{self.posts[name]}"
        self._operations[handle] = (name, run)
        return LOST if fault == "after" else Launched(handle)

    async def get(self, target: Target, run_command: str) -> RunView | CallError:
        await anyio.lowlevel.checkpoint()
        self.reads[target.name] += 1
        now = anyio.current_time()
        if run_command in self._operations:
            return self._operations[run_command][1].view(now, through_extension=False)
        reported = [r for r in self._runs[target.name] if now >= r.started + r.pickup]
        if not reported:
            return CallError(404, "NotFound", "no action run command has run on this VM")
        return reported[-1].view(now, through_extension=True)

    async def delete(self, target: Target, run_command: str) -> CallError | None:
        await anyio.lowlevel.checkpoint()
        return NOT_CANCELABLE

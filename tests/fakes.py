"""In-memory fakes for engine tests (DESIGN.md testing layer 3): ``FakeArm`` implements
``TargetSource``, ``RunCommands`` and ``Machines`` over a dict of targets with scripted
per-target behaviour,
and ``VirtualTimeLoop`` is an asyncio event loop whose clock jumps to the next timer whenever
every task waits, so a run that takes hours of fake seconds finishes in milliseconds, the same
way on an idle laptop and a loaded CI machine.

Use the loop through anyio's pytest plugin::

    @pytest.fixture
    def anyio_backend():
        return VIRTUAL_TIME
"""

from __future__ import annotations

import asyncio
import math
import selectors
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from fleet.model import (
    Batch,
    CallError,
    GateRecord,
    Invocation,
    ListedRunCommand,
    MachineView,
    Progress,
    RestartAccepted,
    RunPlan,
    RunReport,
    RunView,
    Selector,
    Target,
    TargetKind,
    TargetResult,
    marker_tags,
)
from fleet.ports import RunObserver

SUB = "00000000-0000-0000-0000-0000000000aa"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class _VirtualSelector:
    """Wraps the loop's selector: a wait with a timeout returns at once and advances the clock."""

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._inner, self._loop = inner, loop

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:  # nothing scheduled: only another thread can wake us; really wait
            return self._inner.select(None)
        events = self._inner.select(0)
        if not events and timeout > 0:
            self._loop.virtual_now += timeout
        return events

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """``time()`` is virtual: sleeping costs no wall time, and the order of wake-ups is exact."""

    def __init__(self) -> None:
        super().__init__()
        self.virtual_now = 0.0
        self._selector = _VirtualSelector(self._selector, self)  # type: ignore[has-type]

    def time(self) -> float:
        return self.virtual_now


VIRTUAL_TIME = ("asyncio", {"loop_factory": VirtualTimeLoop})


def make_target(
    name: str,
    *,
    os: str | None = "linux",
    power_state: str | None = "running",
    rg: str = "rg-app",
    tags: dict[str, str] | None = None,
) -> Target:
    return Target(
        id=f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/"
        f"virtualMachines/{name}",
        name=name,
        kind=TargetKind.VM,
        subscription=SUB,
        resource_group=rg,
        location="westeurope",
        os=os,
        power_state=power_state,
        tags=tuple(sorted((tags or {}).items())),
    )


@dataclass
class Behaviour:
    """How one fake target reacts. Times are fake (engine) seconds."""

    duration: float = 10.0  # Running -> terminal
    pickup: float = 1.0  # Pending -> Running (the agent picking the command up)
    exit_code: int = 0
    output: str = ""
    error: str = ""
    put_error: CallError | None = None  # every PUT is refused with this
    # Pending for good; Azure fails the operation (provisioningState Failed) after
    # agent_fail_after, as Compute does with VMAgentStatusCommunicationError
    agent_not_ready: bool = False
    agent_fail_after: float = 1522.0
    wedged: bool = False  # Running forever
    # One entry per PUT attempt: "before" = lost before Azure saw it (nothing created),
    # "after" = Azure created it but the response was lost. Later attempts succeed.
    put_faults: list[str] = field(default_factory=list)
    get_faults: int = 0  # this many GETs fail with a transient 503 first
    # Restarts: PowerState/starting (provisioning updating) for ``boot``, then running with the
    # agent Not Ready for ``agent_back`` (for good with ``agent_never``), then Ready.
    boot: float = 30.0
    agent_back: float = 20.0
    agent_never: bool = False
    restart_error: CallError | None = None  # every restart is refused with this
    # One entry per restart request, like put_faults: "before" (lost, nothing restarted) or
    # "after" (restarted, the answer lost). Later requests are answered.
    restart_faults: list[str] = field(default_factory=list)
    view_faults: int = 0  # this many instance-view reads fail with a transient 503 first


NOT_RUNNING = CallError(
    409,
    "OperationNotAllowed",
    "Cannot modify extensions in the VM when the VM is not running.",
)
FORBIDDEN = CallError(
    403, "AuthorizationFailed", "The client does not have authorization to perform action."
)


def limit_refusal(maximum: int, current: int) -> CallError:
    """Azure's refusal of a new run command on a full VM (MicrosoftDocs/azure-docs#117976)."""
    message = (
        f"The maximum number of managed Run commands (max={maximum}, current={current}) has been "
        "exceeded. Use fewer Run commands and retry the request."
    )
    return CallError(409, "OperationNotAllowed", message)


def listed(
    name: str, *, fleets: bool = False, state: str = "Succeeded", ended_hours_ago: float = 24.0
) -> ListedRunCommand:
    """A run command already on a VM: someone else's, or (``fleets``) an earlier fleet job's."""
    tags = marker_tags(name.removeprefix("fleet-"), "old-run") if fleets else {"owner": "ops"}
    ended = EPOCH - timedelta(hours=ended_hours_ago)
    final = state in ("Succeeded", "Failed", "TimedOut", "Canceled")
    view = RunView(
        state,
        exit_code=0 if final else None,
        start_time=ended - timedelta(seconds=5),
        end_time=ended if final else None,
    )
    return ListedRunCommand(name, tuple(sorted(tags.items())), view)


class _Machines:
    """``Machines`` for FakeArm (mixed in): restarts and instance views over virtual time."""

    targets: dict[str, Target]
    behaviour: dict[str, Behaviour]
    restarts: dict[str, list[float]]
    restart_requests: Counter[str]
    views: Counter[str]

    async def restart(self, target: Target) -> RestartAccepted | CallError:
        await anyio.lowlevel.checkpoint()
        name, b = target.name, self.behaviour[target.name]
        self.restart_requests[name] += 1
        if b.restart_error is not None:
            return b.restart_error
        fault = b.restart_faults.pop(0) if b.restart_faults else None
        if fault != "before":
            self.restarts[name].append(anyio.current_time())
        if fault is not None:
            return CallError(0, "ServiceResponseError", "Connection reset by peer")
        return RestartAccepted(f"https://fake/operations/{name}-{len(self.restarts[name])}")

    async def view(self, target: Target) -> MachineView | CallError:
        await anyio.lowlevel.checkpoint()
        name, b = target.name, self.behaviour[target.name]
        self.views[name] += 1
        if b.view_faults:
            b.view_faults -= 1
            return CallError(503, "ServiceUnavailable", "Try again later.")
        if not self.restarts[name]:
            power = target.power_state or "running"
            return MachineView(power, "succeeded", EPOCH - timedelta(days=30), "Ready")
        t0 = self.restarts[name][-1]
        age = anyio.current_time() - t0
        if age < b.boot:
            return MachineView("starting", "updating", _at(t0, 0.0), None)
        ready = not b.agent_never and age >= b.boot + b.agent_back
        return MachineView(
            "running", "succeeded", _at(t0, b.boot), "Ready" if ready else "Not Ready"
        )


@dataclass
class _RunCommand:
    invocation: Invocation
    created: float
    behaviour: Behaviour


class FakeArm(_Machines):
    """``TargetSource`` + ``RunCommands`` + ``Machines`` in memory; records every call per
    target name."""

    def __init__(
        self, *, put_rate: float | None = None, identical_put_reruns: bool = False
    ) -> None:
        self.targets: dict[str, Target] = {}
        self.behaviour: dict[str, Behaviour] = {}
        self.puts: dict[str, list[Invocation]] = defaultdict(list)
        self.gets: Counter[str] = Counter()
        self.get_times: dict[str, list[float]] = defaultdict(list)
        self.executions: Counter[str] = Counter()  # how often a script really started
        self.in_flight: set[str] = set()
        self.max_in_flight = 0
        self.put_rate = put_rate  # PUTs per second Azure accepts (None = unlimited)
        # True: every applied PUT runs the script, even with an identical body (the pessimistic
        # reading of MicrosoftDocs/azure-compute-docs PR #178); False: an identical PUT is a
        # no-op (azure-sdk-for-net#47307)
        self.identical_put_reruns = identical_put_reruns
        self._next_put_slot = 0.0
        self._commands: dict[tuple[str, str], _RunCommand] = {}
        # Azure's per-VM limit; run commands already on the VMs (others' or stale fleet ones);
        # ground truth of deletions: (target name, run command, fleet's?)
        self.max_per_vm = 25
        self.existing: dict[str, dict[str, ListedRunCommand]] = defaultdict(dict)
        self.deletions: list[tuple[str, str, bool]] = []
        self.delete_delay = 0.0  # a deleted run command still counts (and reads) this long
        self._deleting: dict[tuple[str, str], float] = {}  # -> when it is gone
        self.lists: Counter[str] = Counter()
        self.most_fleet_commands: Counter[str] = Counter()  # the most fleet's held at once
        # Machines: ground truth of restarts (requests that reached "Azure") and when, and the
        # instance-view reads per target
        self.restarts: dict[str, list[float]] = defaultdict(list)
        self.restart_requests: Counter[str] = Counter()
        self.views: Counter[str] = Counter()

    def add(self, target: Target, behaviour: Behaviour | None = None) -> Target:
        self.targets[target.name] = target
        self.behaviour[target.name] = behaviour or Behaviour()
        return target

    # TargetSource
    async def select(self, selector: Selector, *, need_os: bool) -> Sequence[Target]:
        await anyio.lowlevel.checkpoint()
        return [t for t in self.targets.values() if selector.matches(t)]

    # RunCommands
    async def put(self, target: Target, invocation: Invocation) -> CallError | None:
        name = target.name
        self.in_flight.add(name)
        self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
        await self._wait_for_put_slot()
        self.puts[name].append(invocation)
        b = self.behaviour[name]
        if b.put_error is not None:
            self.in_flight.discard(name)
            return b.put_error
        if (name, invocation.run_command) not in self._commands:
            held = self.held(name)
            if held >= self.max_per_vm:
                self.in_flight.discard(name)
                return limit_refusal(self.max_per_vm, held)
        fault = b.put_faults.pop(0) if b.put_faults else None
        if fault != "before":
            self._create(name, invocation, b)
            fleets = sum(1 for c in self._names(name) if c[1])
            self.most_fleet_commands[name] = max(self.most_fleet_commands[name], fleets)
        if fault is not None:
            return CallError(0, "ServiceResponseError", "Connection reset by peer")
        return None

    async def _wait_for_put_slot(self) -> None:
        if self.put_rate is None:
            await anyio.lowlevel.checkpoint()
            return
        now = anyio.current_time()
        slot = max(now, self._next_put_slot)
        self._next_put_slot = slot + 1 / self.put_rate
        await anyio.sleep(slot - now)

    def _create(self, name: str, invocation: Invocation, b: Behaviour) -> None:
        key = (name, invocation.run_command)
        current = self._commands.get(key)
        identical = current is not None and current.invocation == invocation
        if identical and not self.identical_put_reruns:
            return  # an identical body is a no-op: nothing re-executes
        self._commands[key] = _RunCommand(invocation, anyio.current_time(), b)
        self.executions[name] += 1

    async def get(self, target: Target, run_command: str) -> RunView | CallError:
        await anyio.lowlevel.checkpoint()
        name = target.name
        self.gets[name] += 1
        self.get_times[name].append(anyio.current_time())
        b = self.behaviour[name]
        if b.get_faults:
            b.get_faults -= 1
            return CallError(503, "ServiceUnavailable", "Try again later.")
        command = self._commands.get((name, run_command))
        if command is None:
            other = self.existing[name].get(run_command)
            if other is not None:
                return other.view
            self.held(name)  # forgets the deletions that have finished
            if (name, run_command) in self._deleting:
                return RunView("Succeeded", provisioning_state="Deleting")
            return CallError(404, "NotFound", f"Run command {run_command} not found.")
        view = _view(command, anyio.current_time() - command.created, target.os)
        if view.terminal:
            self.in_flight.discard(name)
        return view

    async def delete(self, target: Target, run_command: str) -> CallError | None:
        await anyio.lowlevel.checkpoint()
        name = target.name
        own = self._commands.pop((name, run_command), None)
        other = self.existing[name].pop(run_command, None)
        if own is not None or other is not None:
            fleets = own is not None or (other is not None and other.fleets)
            self.deletions.append((name, run_command, fleets))
            if self.delete_delay > 0:
                self._deleting[(name, run_command)] = anyio.current_time() + self.delete_delay
        return None

    def _names(self, name: str) -> list[tuple[str, bool]]:
        """(run command, fleet's?) on ``name``, including ones still being deleted."""
        now = anyio.current_time()
        gone = [key for key, at in self._deleting.items() if at <= now]
        for key in gone:
            del self._deleting[key]
        own = [(rc, True) for (vm, rc) in self._commands if vm == name]
        others = [(rc, c.fleets) for rc, c in self.existing[name].items()]
        deleting = [(rc, False) for (vm, rc) in self._deleting if vm == name]
        return own + others + deleting

    def held(self, name: str) -> int:
        """Run commands on VM ``name`` that count toward the limit."""
        return len(self._names(name))

    async def list_commands(self, target: Target) -> list[ListedRunCommand] | CallError:
        await anyio.lowlevel.checkpoint()
        name = target.name
        self.lists[name] += 1
        mine = []
        for (vm, rc), command in self._commands.items():
            if vm == name:
                inv = command.invocation
                tags = tuple(sorted(marker_tags(inv.job, inv.run_id).items()))
                age = anyio.current_time() - command.created
                mine.append(ListedRunCommand(rc, tags, _view(command, age, target.os)))
        return mine + list(self.existing[name].values())


def _at(created: float, offset: float) -> datetime:
    return EPOCH + timedelta(seconds=created + offset)


def _view(command: _RunCommand, age: float, os: str | None = "linux") -> RunView:
    """What Azure shows ``age`` seconds after the PUT: in flight, Linux says exit code 0 and
    the output so far; a timeout is Failed/-1 on Linux, TimedOut on Windows."""
    b, inv, t0 = command.behaviour, command.invocation, command.created
    timeout = inv.timeout_s or math.inf
    base = {"run_id": inv.run_id}
    if b.agent_not_ready:
        gave_up = age >= b.agent_fail_after
        return RunView("Pending", provisioning_state="Failed" if gave_up else "Creating", **base)
    base["provisioning_state"] = "Succeeded"
    if age < b.pickup:
        return RunView("Pending", **base)
    started = _at(t0, b.pickup)
    if b.wedged or age < b.pickup + min(b.duration, timeout):
        in_flight = 0 if os == "linux" else None
        return RunView(
            "Running", exit_code=in_flight, start_time=started, output=b.output[:10], **base
        )
    if b.duration > timeout:
        ended = _at(t0, b.pickup + timeout)
        if os == "linux":
            return RunView("Failed", exit_code=-1, start_time=started, end_time=ended, **base)
        return RunView("TimedOut", start_time=started, end_time=ended, **base)
    state = "Succeeded" if b.exit_code == 0 else "Failed"
    return RunView(
        state,
        exit_code=b.exit_code,
        output=b.output,
        error=b.error,
        start_time=started,
        end_time=_at(t0, b.pickup + b.duration),
        **base,
    )


class RecordingObserver(RunObserver):
    """Keeps every run event in order (``events``: (name, payload)) and the progress seen."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.progress_seen: list[Progress] = []

    def run_started(self, plan: RunPlan) -> None:
        self.events.append(("run_started", plan))

    def progress(self, progress: Progress) -> None:
        self.progress_seen.append(progress)

    def batch_started(self, batch: Batch) -> None:
        self.events.append(("batch_started", batch))

    def batch_finished(self, batch: Batch) -> None:
        self.events.append(("batch_finished", batch))

    def gate_finished(self, record: GateRecord) -> None:
        self.events.append(("gate_finished", record))

    def target_finished(self, result: TargetResult) -> None:
        self.events.append(("target_finished", result))

    def run_finished(self, report: RunReport) -> None:
        self.events.append(("run_finished", report))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

"""The small interfaces between fleet's engine and the world, and the one way to watch a run.

    TargetSource, RunCommands  what the engine asks of Azure; ``fleet.azure`` implements them
                               with the real SDK, tests in memory (no HTTP). RunCommands has
                               two implementations: managed run commands and the action run
                               command (``Mode``), and the engine uses whichever the job says
    CommandCatalog             the built-in run commands Azure lists per location
    OutputStore, OutputFiles   a run's output container (append blobs the agents write; fleet
                               lists and reads them: ``fleet.storage``) and where fleet keeps
                               the full outputs it read (local files)
    Machines                   restarting a VM and reading its instance view (reboots)
    Backend                    those plus the connection's ARM request counters
    BucketMemory               throttle buckets' state across processes (the state directory)
    Clock                      time, injectable so engine tests never sleep
    Recorder                   where per-target transitions go (the journal)
    RunObserver                run events for whoever shows or follows a run (the CLI's
                               progress display, a dashboard, a workflow engine)

Imports only ``fleet.model`` and ``fleet.errors``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from fleet.errors import SpecError
from fleet.model import (
    ArmCounters,
    Batch,
    BlobState,
    BucketRecord,
    BuiltinCommand,
    CallError,
    GateRecord,
    Invocation,
    Launched,
    ListedRunCommand,
    MachineView,
    Mode,
    OutputBlobs,
    OutputSpec,
    Progress,
    RestartAccepted,
    RunPlan,
    RunReport,
    RunView,
    Selector,
    StorageCounters,
    Target,
    TargetResult,
)


class TargetSource(Protocol):
    """Finds the targets a selector means, with their power state (bulk reads only)."""

    async def select(self, selector: Selector, *, need_os: bool) -> Sequence[Target]: ...


class RunCommands(Protocol):
    """Run commands on one target: create (PUT, or the action run command's POST), read,
    delete, and list every managed run command on the target, whoever created it. Errors are
    returned, not raised.

    ``put`` sends the invocation once (never re-sent below the engine: the engine decides,
    after asking Azure); it answers None or ``Launched`` when Azure accepted it. ``get`` and
    ``delete`` take the run command's name, or the ``Launched.handle`` when ``put`` gave one."""

    async def put(self, target: Target, invocation: Invocation) -> CallError | Launched | None: ...

    async def get(self, target: Target, run_command: str) -> RunView | CallError: ...

    async def delete(self, target: Target, run_command: str) -> CallError | None: ...

    async def list_commands(self, target: Target) -> Sequence[ListedRunCommand] | CallError:
        """Every run command on ``target`` (whoever created it), with its instance view."""
        ...


class CommandCatalog(Protocol):
    """The built-in run commands of one subscription and location. Errors are returned."""

    async def commands(
        self, subscription: str, location: str
    ) -> Sequence[BuiltinCommand] | CallError: ...

    async def command(
        self, subscription: str, location: str, command_id: str
    ) -> BuiltinCommand | CallError: ...


class OutputStore(Protocol):
    """One run's output container. Blob names are relative to the container; errors are
    returned (``CallError``, status 0 = no response), never raised."""

    def url(self, name: str) -> str:
        """The blob's URL, without any SAS (what reports and the journal may show)."""
        ...

    def blobs_for(self, prefix: str, valid_for: timedelta) -> OutputBlobs:
        """The stdout and stderr blobs under ``prefix`` as a PUT names them: URLs and a SAS
        valid for ``valid_for`` (or the managed identity the agents write with)."""
        ...

    async def list(self, prefix: str) -> list[BlobState] | CallError: ...

    async def properties(self, name: str) -> BlobState | CallError | None:
        """The blob's state; None when there is no such blob."""
        ...

    async def read(self, name: str, offset: int, length: int | None = None) -> bytes | CallError:
        """``length`` bytes from ``offset`` (None: to the end)."""
        ...

    async def prune(self, older_than: datetime) -> int | CallError:
        """Delete fleet's output blobs (``<run id>/<target>/stdout|stderr``) of earlier runs
        last written before ``older_than``; how many went."""
        ...

    def counters(self) -> StorageCounters: ...


#: Opens the output container of a job (``OutputSpec``) for one run, valid until ``expires``.
OutputStoreFactory = Callable[[OutputSpec, datetime], AbstractAsyncContextManager[OutputStore]]


class OutputFiles(Protocol):
    """Where fleet keeps the full outputs it read: ``save`` returns the file's path."""

    def save(self, key: str, stream: str, data: bytes) -> str: ...


class Machines(Protocol):
    """One target's VM as a machine: restart it (POST, sent once: never re-sent below the
    engine) and read its instance view. Errors are returned, not raised."""

    async def restart(self, target: Target) -> RestartAccepted | CallError: ...

    async def view(self, target: Target) -> MachineView | CallError: ...


@dataclass
class Backend:
    """The ports a run needs, plus the ARM request counters of the connection. Use
    ``fleet.azure.backend.azure_backend(...)`` for Azure (or the emulator). ``outputs``
    opens a job's output container (None: this backend cannot; a job with ``output:`` is
    refused). ``machines``: needed by a job that reboots (None: such a job is refused before
    anything is sent). ``action_commands``: the action run command (``Mode.ACTION``), when
    the backend has it."""

    targets: TargetSource
    run_commands: RunCommands
    arm_counters: Callable[[], ArmCounters] = ArmCounters
    time_scale: float = 1.0  # >1 only for an emulator running faster than Azure
    outputs: OutputStoreFactory | None = None
    machines: Machines | None = None
    simulated: bool = False  # fleet's own Azure emulator (``--sim``): the report says so
    action_commands: RunCommands | None = None
    catalog: CommandCatalog | None = None
    subscriptions: tuple[str, ...] = ()  # the connection's default subscriptions

    def commands_for(self, mode: Mode) -> RunCommands:
        """The run-commands port of ``mode``."""
        if mode is Mode.ACTION:
            if self.action_commands is None:
                message = "mode: action needs a backend with the action run command"
                raise SpecError(message)
            return self.action_commands
        return self.run_commands


class BucketMemory(Protocol):
    """Throttle buckets' state kept where every fleet process of a machine sees it (the
    journal's state directory): what a crashed process knew, and who shares an identity's
    buckets now. Blocking (file I/O): call it from a worker thread."""

    def exchange(self, identity: str, mine: Sequence[BucketRecord]) -> list[BucketRecord]:
        """Record ``mine`` (this process's records for ``identity``, replacing its earlier
        ones of the same buckets) and return every record kept for ``identity``."""
        ...


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class Recorder(Protocol):
    """Where a run's per-target transitions go (the journal), and its rollout events (a
    batch's start and end with the error budget then, a gate's verdict: ``batch_started``,
    ``batch_finished``, ``gate``). ``intent``, ``reboot_intent`` and ``gate`` must be durable
    when they return, together with everything recorded before them: the PUT (the restart)
    they announce is sent, the verdict acted on, only afterwards. ``reboot_intent`` carries
    the script's result, which a resumed run reports, and the instance view read just before
    the restart, which tells a lost restart from one that arrived."""

    async def intent(self, target: Target, invocation: Invocation) -> None: ...

    def accepted(self, target: Target, handle: str | None = None) -> None: ...

    def put_failed(self, target: Target, error: CallError, *, arrived: bool | None) -> None: ...

    async def reboot_intent(
        self, target: Target, script: TargetResult, required: str, baseline: MachineView
    ) -> None: ...

    def reboot_accepted(self, target: Target, accepted: RestartAccepted) -> None: ...

    def reboot_failed(self, target: Target, error: CallError, *, arrived: bool | None) -> None: ...

    def final(self, result: TargetResult) -> None: ...

    def batch_started(self, batch: Batch, order: str) -> None: ...

    def batch_finished(self, batch: Batch, budget: Mapping[str, Any]) -> None: ...

    async def gate(self, record: GateRecord) -> None: ...

    async def settle(self) -> None:
        """Everything recorded so far survives the process being killed when this returns:
        awaited before fleet deletes a run command of this run (cleanup, cancel), without
        which resume could not tell a PUT that arrived from one that never did."""
        ...


class NullRecorder:
    """Records nothing (a run without a journal)."""

    async def intent(self, target: Target, invocation: Invocation) -> None:
        return None

    def accepted(self, target: Target, handle: str | None = None) -> None:
        return None

    def put_failed(self, target: Target, error: CallError, *, arrived: bool | None) -> None:
        return None

    async def reboot_intent(
        self, target: Target, script: TargetResult, required: str, baseline: MachineView
    ) -> None:
        return None

    def reboot_accepted(self, target: Target, accepted: RestartAccepted) -> None:
        return None

    def reboot_failed(self, target: Target, error: CallError, *, arrived: bool | None) -> None:
        return None

    def final(self, result: TargetResult) -> None:
        return None

    def batch_started(self, batch: Batch, order: str) -> None:
        return None

    def batch_finished(self, batch: Batch, budget: Mapping[str, Any]) -> None:
        return None

    async def gate(self, record: GateRecord) -> None:
        return None

    async def settle(self) -> None:
        return None


class RunObserver:
    """A run's events, for handlers in the style of pyinfra's: subclass and override what you
    need — every method here does nothing. Methods are called on the run's event loop, in
    order, and must return quickly (no I/O that blocks; hand heavy work to a queue).

    ``run_started`` comes once the run is recorded (it can be resumed from then on) and
    before anything is launched; ``progress`` about four times a second while it runs (only
    for an observer passed to the run); ``run_finished`` with the report, after it is
    journaled. A resumed run starts again with ``run_started``."""

    def run_started(self, plan: RunPlan) -> None:
        """The run is recorded and about to launch ``plan``."""

    def progress(self, progress: Progress) -> None:
        """A snapshot of the counts while the run is in flight."""

    def batch_started(self, batch: Batch) -> None:
        """The rollout starts launching ``batch``."""

    def batch_finished(self, batch: Batch) -> None:
        """Every target of ``batch`` reached a final state."""

    def gate_finished(self, record: GateRecord) -> None:
        """A health gate ran after a batch: passed or not, and why."""

    def target_finished(self, result: TargetResult) -> None:
        """A target reached its final state (skipped and not-started ones too)."""

    def run_finished(self, report: RunReport) -> None:
        """The run ended; ``report`` says how."""

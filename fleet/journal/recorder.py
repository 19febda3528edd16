"""The engine's ``Recorder`` port on a journal ``GroupCommitter`` (``fleet.journal.committer``):
intents (to PUT, to restart) and gate verdicts are awaited until the group commit holding them
is fsynced, before the request goes out or the verdict is acted on; the other transitions ride
along with the next commit, and the batches' starts and ends are committed durably without
being awaited (each precedes, in commit order, the first intent or verdict that depends on it).
An accepted launch's handle (an action run command's operation URL) is kept in the
``PUT_ACCEPTED`` detail, for resume to read the operation again.

``recording(writer)`` is the recorder of a run: its committer is a task of the run's task
group, and everything handed over is committed when the block is left, however it is left."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio

from fleet.errors import JournalError
from fleet.journal.codec import (
    final_detail,
    put_failed_detail,
    reboot_failed_detail,
    view_detail,
)
from fleet.journal.committer import GroupCommitter
from fleet.journal.records import State
from fleet.journal.rollout import Kind, batch_started_detail, gate_detail
from fleet.journal.writer import RunWriter
from fleet.model import (
    Batch,
    CallError,
    GateRecord,
    Invocation,
    MachineView,
    RestartAccepted,
    Target,
    TargetResult,
)


class JournalRecorder:
    def __init__(self, committer: GroupCommitter) -> None:
        self.committer = committer

    async def intent(self, target: Target, invocation: Invocation) -> None:
        detail = {"run_command": invocation.run_command, "run_id_param": invocation.run_id}
        await self.committer.add_durable(target.id, State.INTENT_PUT, detail)

    def accepted(self, target: Target, handle: str | None = None) -> None:
        self.committer.add(
            target.id, State.PUT_ACCEPTED, {} if handle is None else {"handle": handle}
        )

    def put_failed(self, target: Target, error: CallError, *, arrived: bool | None) -> None:
        self.committer.add(target.id, State.PUT_FAILED, put_failed_detail(error, arrived))

    async def reboot_intent(
        self, target: Target, script: TargetResult, required: str, baseline: MachineView
    ) -> None:
        detail = {
            "script": final_detail(script),
            "required": required,
            "baseline": view_detail(baseline),
        }
        await self.committer.add_durable(target.id, State.INTENT_REBOOT, detail)

    def reboot_accepted(self, target: Target, accepted: RestartAccepted) -> None:
        self.committer.add(target.id, State.REBOOT_ACCEPTED, {"operation": accepted.operation})

    def reboot_failed(self, target: Target, error: CallError, *, arrived: bool | None) -> None:
        self.committer.add(target.id, State.REBOOT_FAILED, reboot_failed_detail(error, arrived))

    def final(self, result: TargetResult) -> None:
        self.committer.add(result.target.id, State.FINAL, final_detail(result))

    def batch_started(self, batch: Batch, order: str) -> None:
        self.committer.event(Kind.BATCH_STARTED, batch.index, batch_started_detail(batch, order))

    def batch_finished(self, batch: Batch, budget: Mapping[str, Any]) -> None:
        self.committer.event(Kind.BATCH_FINISHED, batch.index, budget)

    async def gate(self, record: GateRecord) -> None:
        await self.committer.event_durable(Kind.GATE, record.batch, gate_detail(record))

    async def settle(self) -> None:
        await self.committer.flush()


@contextlib.asynccontextmanager
async def recording(writer: RunWriter) -> AsyncIterator[JournalRecorder]:
    """The recorder of a run on ``writer``, its committer running for the block's duration;
    leaving the block commits everything pending (raises the journal's error if that fails,
    unless the block is already raising)."""
    committer = GroupCommitter(writer)
    async with anyio.create_task_group() as tg:
        await tg.start(committer.run)
        try:
            yield JournalRecorder(committer)
        except BaseException:
            with contextlib.suppress(JournalError):
                await committer.close()
            raise
        await committer.close()

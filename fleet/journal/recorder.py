"""The engine's ``Recorder`` port on a journal ``RunWriter``: intents (to PUT, to restart) are
committed (fsynced) in a worker thread and awaited before the request goes out; the other
transitions are small, unsynced appends made in place (a crash can lose them, which only makes
resume ask Azure). An accepted launch's handle (an action run command's operation URL) is kept
in the ``PUT_ACCEPTED`` detail, for resume to read the operation again."""

from __future__ import annotations

import anyio

from fleet.journal.codec import final_detail, view_detail
from fleet.journal.writer import RunWriter
from fleet.model import (
    CallError,
    Invocation,
    MachineView,
    RestartAccepted,
    Target,
    TargetResult,
)


class JournalRecorder:
    def __init__(self, writer: RunWriter) -> None:
        self.writer = writer

    async def intent(self, target: Target, invocation: Invocation) -> None:
        await anyio.to_thread.run_sync(
            self.writer.intent_put, target.id, invocation.run_command, invocation.run_id
        )

    def accepted(self, target: Target, handle: str | None = None) -> None:
        self.writer.put_accepted(target.id, None if handle is None else {"handle": handle})

    def put_failed(self, target: Target, error: CallError, *, arrived: bool | None) -> None:
        self.writer.put_failed(target.id, error, arrived=arrived)

    async def reboot_intent(
        self, target: Target, script: TargetResult, required: str, baseline: MachineView
    ) -> None:
        detail = {
            "script": final_detail(script),
            "required": required,
            "baseline": view_detail(baseline),
        }
        await anyio.to_thread.run_sync(self.writer.intent_reboot, target.id, detail)

    def reboot_accepted(self, target: Target, accepted: RestartAccepted) -> None:
        self.writer.reboot_accepted(target.id, accepted.operation)

    def reboot_failed(self, target: Target, error: CallError, *, arrived: bool | None) -> None:
        self.writer.reboot_failed(target.id, error, arrived=arrived)

    def final(self, result: TargetResult) -> None:
        self.writer.final(result)

"""The deletes fleet makes on a target's VM (``Housekeeper``): freeing a slot at Azure's per-VM
limit of managed run commands, and the job's cleanup policy once a result has been read.

Each DELETE goes through the same throttled SDK pipeline as every other request (ARM's deletes
bucket, Compute's Update VM / Delete VMSS VMs policy). What to delete is decided by the pure
rules in ``fleet.engine.hygiene``: only fleet's own run commands (its marker), only finished ones.

At the limit: list the VM's run commands, delete as few of fleet's finished ones as make room
(oldest first), then read each until Azure says it is gone (a run command being deleted still
counts toward the limit) before the PUT is sent again. Reads are cheaper than refused PUTs:
waiting is a few GETs, never a PUT loop.
"""

from __future__ import annotations

from dataclasses import replace

import structlog

from fleet.engine.hygiene import Limit, cleanup_wanted, limit_reason, plan_slots
from fleet.engine.settings import RunContext
from fleet.model import CallError, Cleanup, Deleted, DeleteReason, Target, TargetResult
from fleet.ports import Recorder, RunCommands

log = structlog.get_logger("fleet.engine")


class Housekeeper:
    def __init__(
        self, run_commands: RunCommands, context: RunContext, policy: Cleanup, recorder: Recorder
    ) -> None:
        self.run_commands, self.policy, self.recorder = run_commands, policy, recorder
        self.settings, self.clock, self.secrets = context.settings, context.clock, context.secrets

    async def free_slot(
        self, target: Target, launching: str, limit: Limit
    ) -> tuple[tuple[Deleted, ...], str | None]:
        """Make room for ``launching`` on ``target``: what was deleted, and why no slot could
        be freed (None when one was)."""
        listed = await self.run_commands.list_commands(target)
        if isinstance(listed, CallError):
            return (), limit_reason(limit, None, f"{listed.code}: {listed.message}")
        plan = plan_slots(listed, limit.maximum, launching)
        if plan.blocked:
            return (), limit_reason(limit, plan)
        deleted: list[Deleted] = []
        for item in plan.delete:
            err = await self.run_commands.delete(target, item.name)
            if err is not None and err.status != 404:
                why = self.secrets.redact(f"{err.code}: {err.message}")
                deleted.append(Deleted(item.name, DeleteReason.RECLAIMED, error=why))
                return tuple(deleted), limit_reason(limit, plan, f"deleting {item.name}: {why}")
            log.info("target.reclaimed", target=target.id, run_command=item.name, job=item.job)
            deleted.append(Deleted(item.name, DeleteReason.RECLAIMED))
        if not await self._gone(target, [d.run_command for d in deleted]):
            detail = "the deletion did not finish in time"
            return tuple(deleted), limit_reason(limit, plan, detail)
        return tuple(deleted), None

    async def _gone(self, target: Target, names: list[str]) -> bool:
        """Read each deleted run command until Azure answers 404 (bounded in time)."""
        s = self.settings
        delay, left = s.engine_s(s.delete_poll_s), s.engine_s(s.delete_wait_s)
        for name in names:
            while True:
                view = await self.run_commands.get(target, name)
                if isinstance(view, CallError) and view.status == 404:
                    break
                if left <= 0:
                    return False
                await self.clock.sleep(min(delay, left))
                left -= delay
                delay = min(delay * 2, s.engine_s(s.delete_poll_max_s))
        return True

    async def tidy(self, target: Target, run_command: str, result: TargetResult) -> TargetResult:
        """Apply the cleanup policy to the run command behind a final ``result``."""
        if not cleanup_wanted(self.policy, result):
            return result
        await self.recorder.settle()  # its PUT_ACCEPTED outlives a kill once it is deleted
        err = await self.run_commands.delete(target, run_command)
        if err is None or err.status == 404:
            log.info("target.cleaned", target=target.id, run_command=run_command)
            done = Deleted(run_command, DeleteReason.CLEANUP)
        else:
            why = self.secrets.redact(f"{err.code}: {err.message}")
            log.warning("target.cleanup_failed", target=target.id, reason=why)
            done = Deleted(run_command, DeleteReason.CLEANUP, error=why)
        return replace(result, deleted=(*result.deleted, done))

"""Running health gates between batches: the gate script as its own managed run command on the
checked targets, then the pure verdict (``fleet.rollout.gates``).

Each gate has its own run command per job (``fleet-<job>-gate-<gate>``, so it never replaces
the job's own) and its own executor (its durations teach its own poll planner). The run id is
the run's plus the batch number, so a sentinel checked after every batch really re-runs.
A gate run is sent like any run command (once; re-sent only after Azure proves it never
arrived). A gate's run commands are not journaled, its verdict is (by the runner, through the
``Recorder``): a resumed run whose crash came after a batch finished and before all its gates
gave a verdict checks the others, asking Azure first for each checked target
(``Executor.resume``): a gate run command already carrying this gate's run id is watched, not
sent again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import anyio
import structlog

from fleet.engine.execute import Executor, Interrupt
from fleet.engine.settings import RunContext
from fleet.model import (
    GateRecord,
    HealthGate,
    JobSpec,
    RebootPolicy,
    Status,
    Target,
    TargetResult,
)
from fleet.ports import RunCommands
from fleet.rollout.gates import evaluate, gate_targets

log = structlog.get_logger("fleet.engine")


def gate_spec(spec: JobSpec, gate: HealthGate) -> JobSpec:
    """The job a gate runs: its own script as ``fleet-<job>-gate-<gate>``, with the job's
    selector, concurrency, cleanup policy and pending timeout; a gate never reboots anything."""
    name = f"{spec.name}-gate-{gate.name}"
    rollout = dataclasses.replace(spec.rollout, reboot=RebootPolicy())
    return JobSpec(name, spec.selector, gate.script, spec.concurrency, rollout=rollout)


def gate_run_id(run_id: str, batch: int) -> str:
    """The run id a gate's PUTs carry after ``batch``: a sentinel checked again really re-runs."""
    return f"{run_id}-b{batch}"


class GateRuns:
    def __init__(
        self,
        spec: JobSpec,
        run_commands: RunCommands,
        context: RunContext,
        *,
        sentinels: Sequence[Target] = (),
    ) -> None:
        self.spec, self.run_commands, self.context = spec, run_commands, context
        self.secrets = context.secrets
        self.sentinels = tuple(sentinels)
        self._executors: dict[str, Executor] = {}
        self._interrupt: Interrupt | None = None

    def interrupt(self, action: Interrupt) -> None:
        self._interrupt = action
        for executor in self._executors.values():
            executor.interrupt(action)

    def _executor(self, gate: HealthGate, batch: int) -> Executor:
        context = dataclasses.replace(self.context, run_id=gate_run_id(self.context.run_id, batch))
        executor = Executor(gate_spec(self.spec, gate), self.run_commands, context)
        old = self._executors.get(gate.name)
        if old is not None:
            executor.planner = old.planner  # keep what earlier batches taught about durations
        self._executors[gate.name] = executor
        if self._interrupt is not None:
            executor.interrupt(self._interrupt)
        return executor

    async def check(
        self,
        gate: HealthGate,
        batch: int,
        batch_results: Sequence[TargetResult],
        *,
        resuming: bool = False,
    ) -> GateRecord:
        """Run ``gate`` after batch ``batch`` and say whether it passed, and why not.
        ``resuming``: the gate may have been sent before a crash; ask Azure before sending."""
        targets = gate_targets(gate, batch_results, self.sentinels)
        executor = self._executor(gate, batch)
        results: list[TargetResult] = []
        limit = anyio.CapacityLimiter(self.spec.concurrency.resolve(len(targets) or 1))

        async def one(target: Target) -> None:
            async with limit:
                try:
                    if resuming:
                        results.append(await executor.resume(target, ambiguous=True))
                    else:
                        results.append(await executor.execute(target))
                except Exception as exc:  # a bug or unexpected SDK error fails the gate
                    reason = self.secrets.redact(f"{type(exc).__name__}: {exc}")
                    results.append(TargetResult(target, Status.ERROR, reason=reason))

        log.info("gate.started", gate=gate.name, batch=batch, targets=len(targets))
        async with anyio.create_task_group() as tg:
            for target in targets:
                tg.start_soon(one, target)
        passed, reason = evaluate(gate, results)
        if self._interrupt is not None and passed is False:
            reason = f"interrupted: {reason}"
        log.info("gate.finished", gate=gate.name, batch=batch, passed=passed, reason=reason)
        ids = tuple(t.id for t in targets)
        return GateRecord(gate.name, batch, passed, reason, ids)

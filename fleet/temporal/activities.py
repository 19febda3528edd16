"""The run workflow's activities: what a worker does with its own ARM connection (``Backend``).

    prepare    select the targets of a scheduled job and cut its batches (or say a blackout
               window holds): the plan, as the workflow's input wants it
    launch     send the PUTs of a few targets of one subscription (``names.LAUNCH_CHUNK``)
    watch      read launched run commands until they end (all, or the ``until`` first)
    interrupt  a stop or cancel: read each in-flight command once more, delete or leave it
    tidy       the cleanup policy, once the workflow has recorded a result

Each activity builds the job from the ``PortableJob`` it is given (secrets from this worker's
environment) and drives the engine's ``Executor`` for it — the same exactly-once rule as a local
run: one run-command name per job, the run id in every PUT, and a retried launch (attempt > 1:
the worker that ran it before may have sent the PUTs) reads Azure before it ever sends a PUT
again. Activities report the ARM requests they made (``fleet.azure.arm_tally``) so the run's
report counts every worker's. A bad job (a secret missing on this worker) fails the activity
for good; anything else is retried by Temporal.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from fleet.api.prepare import prepare
from fleet.azure.arm_tally import ArmTally, counting
from fleet.engine.execute import Executor, Interrupt, Started
from fleet.engine.gate_runs import gate_run_id, gate_spec
from fleet.engine.invocation import invocation_for, run_command_name
from fleet.engine.settings import AnyioClock, EngineSettings, RunContext
from fleet.errors import FleetError, SpecError
from fleet.model import JobSpec, Target, TargetResult
from fleet.ports import Backend
from fleet.rollout.budget import FailureKind, classify
from fleet.schedule import blackout_at
from fleet.secrets import Secrets, using
from fleet.spec.portable import PortableJob
from fleet.temporal import names
from fleet.temporal.client import check_supported
from fleet.temporal.codec import (
    Json,
    arm_to_json,
    plan_to_json,
    result_from_json,
    result_to_json,
    target_from_json,
)

log = structlog.get_logger("fleet.temporal")

HEARTBEAT_S = 2.0  # wall seconds between heartbeats (the workflow's timeout is far longer)
_SPECS_KEPT = 32


@dataclass(frozen=True)
class Unit:
    """What a batch of targets runs: the job itself, or a health gate after a batch."""

    spec: JobSpec
    run_id: str

    @classmethod
    def of(cls, spec: JobSpec, run_id: str, raw: Mapping[str, Any] | None) -> Unit:
        if not raw:
            return cls(spec, run_id)
        gate = next((g for g in spec.rollout.gates if g.name == raw["gate"]), None)
        if gate is None:
            raise SpecError(f"the job {spec.name} has no health gate {raw['gate']!r}")
        return cls(gate_spec(spec, gate), gate_run_id(run_id, int(raw["batch"])))


class RunActivities:
    """The activities of one worker process: one ARM connection for all of them."""

    def __init__(
        self,
        backend: Backend,
        env: Mapping[str, str] | None = None,
        job_spec: Callable[[Json], JobSpec] | None = None,
    ) -> None:
        """``job_spec``: how a job's JSON becomes its spec (default: a ``PortableJob`` built
        with the secrets of ``env``, this process's environment by default)."""
        self.backend = backend
        self.env = os.environ if env is None else env
        self.settings = EngineSettings(time_scale=backend.time_scale)
        self._build = job_spec or self._portable
        self._specs: dict[str, JobSpec] = {}

    def _portable(self, job: Json) -> JobSpec:
        return PortableJob.from_json(job).job_spec(self.env)

    def all(self) -> list[Callable[..., Any]]:
        return [self.prepare, self.launch, self.watch, self.interrupt, self.tidy]

    def _spec(self, job: Json) -> JobSpec:
        key = hashlib.sha256(json.dumps(job, sort_keys=True).encode()).hexdigest()
        spec = self._specs.get(key)
        if spec is None:
            spec = self._build(job)
            if len(self._specs) >= _SPECS_KEPT:
                self._specs.pop(next(iter(self._specs)))
            self._specs[key] = spec
        return spec

    def _executor(self, unit: Unit) -> Executor:
        context = RunContext(unit.run_id, self.settings, AnyioClock(), Secrets.from_spec(unit.spec))
        return Executor(unit.spec, self.backend.run_commands, context)

    @activity.defn(name=names.PREPARE)
    async def prepare(self, payload: Json) -> Json:
        """A scheduled fire: ``{"blackout": why}`` when a blackout window holds now, else
        ``{"plan": ...}`` (targets selected now, batches cut)."""
        with _job_errors():
            spec = self._spec(payload["job"])
            check_supported(spec)
            if spec.schedule is not None:
                window = blackout_at(spec.schedule, datetime.now(UTC))
                if window is not None:
                    return {"blackout": f"in the blackout window {window.describe()}"}
            with using(Secrets.from_spec(spec)):
                plan = await prepare(spec, self.backend, run_id=payload["run_id"])
            return {"plan": plan_to_json(plan)}

    @activity.defn(name=names.LAUNCH)
    async def launch(self, payload: Json) -> Json:
        # a retry: the attempt before may have sent the PUTs, so Azure is asked first
        return await self.launch_targets(payload, retried=activity.info().attempt > 1)

    @activity.defn(name=names.WATCH)
    async def watch(self, payload: Json) -> Json:
        return await self.watch_targets(payload)

    @activity.defn(name=names.INTERRUPT)
    async def interrupt(self, payload: Json) -> Json:
        return await self.interrupt_targets(payload)

    @activity.defn(name=names.TIDY)
    async def tidy(self, payload: Json) -> Json:
        return await self.tidy_targets(payload)

    # What the activities do, callable outside Temporal too (tests drive them directly).

    async def launch_targets(self, payload: Json, *, retried: bool = False) -> Json:
        """PUT each target's run command; per target ``{"launched": {...}}`` or ``{"result":
        ...}`` (it never launched: refused, at the limit, no script for its OS). ``retried``:
        read Azure first, and send only the PUTs it proves never arrived."""
        unit, targets = self._unit(payload), _targets(payload)
        executor = self._executor(unit)
        finals: dict[str, TargetResult] = {}
        sent: dict[str, Started] = {}

        async def one(target: Target) -> None:
            launched = await executor.launch(target, ask_first=retried)
            if isinstance(launched, TargetResult):
                finals[target.id] = launched
            else:
                sent[target.id] = launched

        with counting() as tally, using(executor.secrets):
            await _heartbeating([one(t) for t in targets])
        now = executor.clock.now()
        outcomes = [
            {"result": result_to_json(finals[t.id])}
            if t.id in finals
            else {"launched": _launched_json(sent[t.id], now)}
            for t in targets
        ]
        return {"outcomes": outcomes, "arm": arm_to_json(tally.counters())}

    async def watch_targets(self, payload: Json) -> Json:
        """Read each launched target until it ends; return once ``until`` of them have ended,
        or a failure that spends the error budget did (``budget``), or ``max_s`` wall seconds
        passed. ``learned``: what the run's earlier watches taught about durations."""
        unit, items = self._unit(payload), payload["targets"]
        executor = self._executor(unit)
        warm = Counter({(lo, hi): n for lo, hi, n in payload.get("learned") or ()})
        executor.planner.model.learn((lo, hi, n) for (lo, hi), n in warm.items())
        until, budget = int(payload["until"]), bool(payload.get("budget"))
        results: list[TargetResult] = []
        enough = anyio.Event()

        async def one(item: Mapping[str, Any]) -> None:
            target = target_from_json(item["target"])
            result = await executor.watch(target, self._launched(unit, target, item))
            results.append(result)
            spends = budget and classify(result) is not FailureKind.NONE
            if len(results) >= until or spends:
                enough.set()

        with counting() as tally, using(executor.secrets):
            with anyio.move_on_after(float(payload["max_s"])):
                await _heartbeating([one(i) for i in items], until=enough)
        learned = Counter({(lo, hi): n for lo, hi, n in executor.planner.model.completed()})
        answer = _answer(results, tally)
        answer["learned"] = [[lo, hi, n] for (lo, hi), n in (learned - warm).items()]
        return answer

    async def interrupt_targets(self, payload: Json) -> Json:
        """``action`` delete (a cancel) or abandon (a stop's grace ran out) the targets: each
        read once more, then deleted or left running."""
        unit, items = self._unit(payload), payload["targets"]
        executor = self._executor(unit)
        executor.interrupt(Interrupt(payload["action"]))
        results: dict[str, TargetResult] = {}

        async def one(item: Mapping[str, Any]) -> None:
            target = target_from_json(item["target"])
            results[target.id] = await executor.watch(target, self._launched(unit, target, item))

        with counting() as tally, using(executor.secrets):
            await _heartbeating([one(i) for i in items])
        return _answer([results[i["target"]["id"]] for i in items], tally)

    async def tidy_targets(self, payload: Json) -> Json:
        """The cleanup policy on finished targets: each result with what was deleted."""
        unit = self._unit(payload)
        executor = self._executor(unit)
        name = run_command_name(unit.spec.name)
        given = [result_from_json(r) for r in payload["results"]]
        tidied: dict[str, TargetResult] = {}

        async def one(result: TargetResult) -> None:
            tidied[result.target.id] = await executor.keeper.tidy(result.target, name, result)

        with counting() as tally, using(executor.secrets):
            await _heartbeating([one(r) for r in given])
        return _answer([tidied[r.target.id] for r in given], tally)

    def _unit(self, payload: Mapping[str, Any]) -> Unit:
        with _job_errors():
            return Unit.of(self._spec(dict(payload["job"])), payload["run_id"], payload.get("unit"))

    def _launched(self, unit: Unit, target: Target, item: Mapping[str, Any]) -> Started:
        """A launched target as this worker's engine knows it: its invocation and when it was
        launched on this process's clock (``elapsed_s``: wall seconds since the launch)."""
        invocation = invocation_for(unit.spec, target, unit.run_id)
        if invocation is None:  # launched, so the job has a script for it
            raise ApplicationError(
                f"the job has no script for {target.name} (OS {target.os})", non_retryable=True
            )
        since = AnyioClock().now() - float(item["elapsed_s"])
        return Started(invocation, since, invocation.run_command)  # managed: read by name


def _targets(payload: Mapping[str, Any]) -> list[Target]:
    return [target_from_json(t) for t in payload["targets"]]


def _launched_json(launched: Started, now: float) -> Json:
    """A launched target for the workflow: ``since_s`` wall seconds ago, in so many PUTs."""
    return {
        "since_s": max(0.0, now - launched.launched_at),
        "attempts": launched.attempts,
        "deleted": [[d.run_command, d.reason.value, d.error] for d in launched.deleted],
    }


def _answer(results: Sequence[TargetResult], tally: ArmTally) -> Json:
    return {"results": [result_to_json(r) for r in results], "arm": arm_to_json(tally.counters())}


async def _heartbeating(
    work: Sequence[Awaitable[None]], *, until: anyio.Event | None = None
) -> None:
    """Run ``work`` side by side, heartbeating meanwhile (a worker that dies stops
    heartbeating, and Temporal gives the activity to another); return when all of it is done,
    or as soon as ``until`` is set (what is still running is cancelled)."""
    async with anyio.create_task_group() as tg:

        async def beat() -> None:
            while activity.in_activity():
                activity.heartbeat()
                await anyio.sleep(HEARTBEAT_S)

        async def run(item: Awaitable[None], left: list[int]) -> None:
            await item
            left[0] -= 1
            if left[0] == 0:
                tg.cancel_scope.cancel()

        async def stop_when_set(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        if not work:
            return
        left = [len(work)]
        tg.start_soon(beat)
        if until is not None:
            tg.start_soon(stop_when_set, until)
        for item in work:
            tg.start_soon(run, item, left)


@contextmanager
def _job_errors() -> Iterator[None]:
    """A job this worker cannot build (a secret missing here, a bad document) fails the
    activity for good: retrying cannot help. Other errors are retried."""
    try:
        yield
    except FleetError as exc:
        raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from None

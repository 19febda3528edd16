"""``fleet.temporal.rollout.Work`` as fleet's activities: each call a JSON payload to a task
queue (the launch, interrupt and tidy of a subscription to its write queue, the watch to its
read queue) and a JSON answer back. How a call reaches a worker is ``Call``'s business: a
workflow's ``execute_activity`` (``fleet.temporal.workflows``), or — in tests — the activities'
code in this process. Deterministic: times come from the loop (the workflow's clock).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fleet.engine.execute import Interrupt
from fleet.model import ArmCounters, Deleted, DeleteReason, Target, TargetResult
from fleet.temporal import names
from fleet.temporal.codec import (
    Json,
    arm_from_json,
    result_from_json,
    result_to_json,
    target_to_json,
)
from fleet.temporal.rollout import InFlight, Launch, Unit

#: (activity name, task queue, payload, start-to-close limit in seconds) -> answer
Call = Callable[[str, str, Json, float], Awaitable[Json]]

WATCH_MAX_S = 600.0  # wall seconds a watch activity runs before it gives back what it has


class ActivityWork:
    """``fleet.temporal.rollout.Work`` as activities on the subscriptions' task queues."""

    def __init__(self, call: Call, job: Json, run_id: str) -> None:
        self.job, self.run_id = job, run_id
        self._call = call
        self.learned: dict[Unit, Counter[tuple[int | None, int]]] = {}

    def _payload(self, unit: Unit, **more: Any) -> Json:
        return {"job": self.job, "run_id": self.run_id, "unit": unit.to_json(), **more}

    async def launch(
        self, unit: Unit, targets: Sequence[Target]
    ) -> tuple[list[Launch], ArmCounters]:
        payload = self._payload(unit, targets=[target_to_json(t) for t in targets])
        queue = names.writes_queue(targets[0].subscription)
        answer = await self._call(names.LAUNCH, queue, payload, 3600)
        now = asyncio.get_running_loop().time()
        launches = []
        for target, outcome in zip(targets, answer["outcomes"], strict=True):
            if "result" in outcome:
                launches.append(Launch(target, result=result_from_json(outcome["result"])))
                continue
            sent = outcome["launched"]
            deleted = tuple(Deleted(n, DeleteReason(r), e) for n, r, e in sent["deleted"])
            flight = InFlight(target, now - float(sent["since_s"]), sent["attempts"], deleted)
            launches.append(Launch(target, flight=flight))
        return launches, arm_from_json(answer["arm"])

    def _flights(self, flights: Sequence[InFlight]) -> list[Json]:
        now = asyncio.get_running_loop().time()
        return [
            {"target": target_to_json(f.target), "elapsed_s": max(0.0, now - f.launched_at)}
            for f in flights
        ]

    async def watch(
        self, unit: Unit, flights: Sequence[InFlight], *, until: int, budget: bool
    ) -> tuple[list[TargetResult], ArmCounters]:
        learned = self.learned.setdefault(unit, Counter())
        payload = self._payload(
            unit, targets=self._flights(flights), until=until, budget=budget, max_s=WATCH_MAX_S,
            learned=[[lo, hi, n] for (lo, hi), n in learned.items()],
        )  # fmt: skip
        queue = names.reads_queue(flights[0].target.subscription)
        answer = await self._call(names.WATCH, queue, payload, WATCH_MAX_S + 300)
        learned.update({(lo, hi): n for lo, hi, n in answer["learned"]})
        results = [result_from_json(r) for r in answer["results"]]
        return results, arm_from_json(answer["arm"])

    async def interrupt(
        self, unit: Unit, flights: Sequence[InFlight], action: Interrupt
    ) -> tuple[list[TargetResult], ArmCounters]:
        payload = self._payload(unit, targets=self._flights(flights), action=action.value)
        queue = names.writes_queue(flights[0].target.subscription)
        answer = await self._call(names.INTERRUPT, queue, payload, 900)
        return [result_from_json(r) for r in answer["results"]], arm_from_json(answer["arm"])

    async def tidy(
        self, unit: Unit, results: Sequence[TargetResult]
    ) -> tuple[list[TargetResult], ArmCounters]:
        payload = self._payload(unit, results=[result_to_json(r) for r in results])
        queue = names.writes_queue(results[0].target.subscription)
        answer = await self._call(names.TIDY, queue, payload, 900)
        return [result_from_json(r) for r in answer["results"]], arm_from_json(answer["arm"])

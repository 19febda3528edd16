"""Names and numbers every fleet process on Temporal must agree on (pure): the workflow and
activity names, the task queues, the workflow and schedule ids, how many targets one activity
carries, and the server-side rate limit of a subscription's write queue.

Task queues (one namespace holds one fleet):

    fleet-control               the run and fire workflows, and ``prepare`` (target selection)
    fleet-writes-<subscription> ``launch``, ``tidy`` and ``interrupt``: every ARM write of the
                                subscription goes out from here, at most ``write_rate`` activities
                                a second for all workers together (enforced by the server)
    fleet-reads-<subscription>  ``watch``: reading run commands until they end (no server limit;
                                each worker's throttle model paces its reads)

A worker polls the control queue and the two queues of each subscription it serves.
"""

from __future__ import annotations

import math
from datetime import timedelta

from fleet.azure.limits import ARM_PUBLISHED, COMPUTE_PUBLISHED

RUN_WORKFLOW = "fleet-run"
FIRE_WORKFLOW = "fleet-fire"
PART_WORKFLOW = "fleet-part"

PREPARE = "fleet.prepare"
LAUNCH = "fleet.launch"
WATCH = "fleet.watch"
INTERRUPT = "fleet.interrupt"
TIDY = "fleet.tidy"

CONTROL_QUEUE = "fleet-control"

#: Targets one launch (and tidy, and interrupt) activity carries. A PUT is one ARM write, so a
#: write queue dispatching ``r`` activities a second sends at most ``r x LAUNCH_CHUNK`` PUTs a
#: second.
LAUNCH_CHUNK = 8
#: Launch chunks of one subscription on their way at once: at least 4 (32 PUTs, the local
#: engine's ``puts_in_flight``), and enough to keep the write queue busy through Temporal's
#: dispatch round trip (a chunk takes ~1-2 s from the workflow to a worker and back, whatever
#: Azure's speed) — ``PIPELINE_S`` of the queue's rate. A stop holds back every chunk not sent
#: yet: what still goes out is at most that many chunks.
LAUNCHES_IN_FLIGHT = 4
PIPELINE_S = 2.0
#: Targets one watch activity reads at most (a longer list is split).
WATCH_CHUNK = 200
#: How long one workflow task of a run (or fire) workflow may take, not Temporal's 10 s default:
#: a worker busy with its activities gives its workflows a share of one core, and a task that
#: times out is replayed from the start of the history next, which takes longer still. The
#: server fails a task long before that when more than 100 events buffer up meanwhile
#: (``history.maximumBufferedEventsBatch``), hence the run's parts (``PART_WORKFLOW``).
WORKFLOW_TASK_TIMEOUT = timedelta(seconds=60)


def writes_queue(subscription: str) -> str:
    return f"fleet-writes-{subscription.lower()}"


def reads_queue(subscription: str) -> str:
    return f"fleet-reads-{subscription.lower()}"


def run_workflow_id(run_id: str) -> str:
    return f"fleet-run-{run_id}"


def part_workflow_id(run_id: str, number: int, subscription: str) -> str:
    """A run's ``number``-th part (one pass of one subscription): not a run's id."""
    return f"fleet-part-{run_id}-{number}-{subscription.lower()}"


def run_id_of(workflow_id: str) -> str | None:
    """The fleet run id of a run workflow's id (None for any other workflow)."""
    prefix = "fleet-run-"
    return workflow_id[len(prefix) :] if workflow_id.startswith(prefix) else None


def schedule_id(job: str) -> str:
    return f"fleet-schedule-{job}"


def fire_workflow_id(job: str) -> str:
    """The id prefix of a schedule's fire workflows (the server appends the fire time)."""
    return f"fleet-fire-{job}"


def write_budget_per_s(safety: float = 0.9) -> float:
    """fleet's share of one subscription's sustained write rate (writes per Azure-second): the
    smaller of ARM's write bucket refill (per subscription and principal) and Compute's Update
    VM refill (per subscription and region), both times ``safety`` — fleet's usual share of the
    published limits. A run command's PUT and DELETE draw from both."""
    arm = ARM_PUBLISHED["writes"][1]
    compute = COMPUTE_PUBLISHED["UpdateVM"][2] / 60.0
    return safety * min(arm, compute)


def write_rate(time_scale: float = 1.0, safety: float = 0.9) -> float:
    """The server-side limit of a write queue: activities a (wall) second, so that activities
    of ``LAUNCH_CHUNK`` writes each stay within ``write_budget_per_s`` however many workers
    poll the queue (an emulator ``time_scale`` times faster than Azure refills that much
    faster)."""
    return write_budget_per_s(safety) * time_scale / LAUNCH_CHUNK


def launches_in_flight(time_scale: float = 1.0, safety: float = 0.9) -> int:
    """How many launch chunks of one subscription may be on their way at once (see
    ``LAUNCHES_IN_FLIGHT``): 4 against Azure, more against an emulator many times faster."""
    return max(LAUNCHES_IN_FLIGHT, math.ceil(write_rate(time_scale, safety) * PIPELINE_S))

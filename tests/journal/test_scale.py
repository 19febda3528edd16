"""A 10,000-target run (~4 transitions each) through group-committed intents and batched
finals: the journal keeps every transition and classifies every target. (Timings are
benchmarks, not assertions.)"""

from __future__ import annotations

from pathlib import Path

from fleet.journal import Journal, Phase, PlannedTarget
from fleet.model import Status, TargetResult
from tests.journal import make_spec, make_targets

N = 10_000
BATCH = 200  # an ARM write burst


def test_ten_thousand_targets(tmp_path: Path) -> None:
    targets = make_targets(N)
    planned = [PlannedTarget(t, batch=i // 1000) for i, t in enumerate(targets)]
    with Journal.open(tmp_path) as journal:
        with journal.begin_run("big", make_spec(), planned) as w:
            for start in range(0, N, BATCH):
                chunk = targets[start : start + BATCH]
                w.intent_puts([(t.id, "fleet-patch", "big") for t in chunk])
                for t in chunk[: BATCH // 2]:
                    w.put_accepted(t.id)
                w.finals([TargetResult(t, Status.SUCCEEDED, exit_code=0) for t in chunk[:50]])
            w.end("halted", {"total": N})
        states = journal.target_states("big")
        assert len(journal.transitions("big")) == N * 2 + (N // 2) + (N // 4)
        assert journal.targets("big")[-1].batch == 9
    phases = [s.phase for s in states.values()]
    assert phases.count(Phase.DONE) == N // 4
    assert phases.count(Phase.RUNNING) == N // 4
    assert phases.count(Phase.AMBIGUOUS) == N // 2

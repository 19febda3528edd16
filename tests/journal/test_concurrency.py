"""Readers work while a run is being written (WAL): from other threads of the writing process
and from another process, always seeing a consistent, growing snapshot."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from fleet.journal import Journal, Phase
from fleet.model import Status, TargetResult
from tests.journal import make_spec, make_targets

ROOT = Path(__file__).resolve().parents[2]
N = 300


def write_run(journal: Journal, started: threading.Event, done: threading.Event) -> None:
    targets = make_targets(N)
    with journal.begin_run("r1", make_spec(), targets) as w:
        started.set()
        for t in targets:
            w.intent_put(t.id, "fleet-patch", "r1")
            w.put_accepted(t.id)
            w.final(TargetResult(t, Status.SUCCEEDED, exit_code=0, output="ok"))
        w.end("completed", {"Succeeded": N})
    done.set()


def test_readers_in_other_threads_see_consistent_growing_snapshots(tmp_path: Path) -> None:
    writer_journal = Journal.open(tmp_path)
    reader = Journal.open(tmp_path, writable=False)
    started, done = threading.Event(), threading.Event()
    thread = threading.Thread(target=write_run, args=(writer_journal, started, done))
    thread.start()
    assert started.wait(timeout=30)
    seen_done, reads = 0, 0
    while not done.is_set() or reads == 0:
        states = reader.target_states("r1")
        assert len(states) == N  # the plan is all there from the first read
        finished = sum(s.phase is Phase.DONE for s in states.values())
        assert finished >= seen_done  # never goes backwards
        seen_done, reads = finished, reads + 1
        assert reader.runs()[0].run_id == "r1"
    thread.join(timeout=60)
    assert reader.run("r1").ended == "completed"
    assert sum(s.phase is Phase.DONE for s in reader.target_states("r1").values()) == N


READER = """
import sys
from fleet.journal import Journal
j = Journal.open(sys.argv[1], writable=False)
[run] = j.runs()
states = j.target_states(run.run_id)
print(run.run_id, run.ended, len(states), sum(s.phase.value == "running" for s in states.values()))
"""


def test_a_reader_process_reads_while_this_process_writes(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    targets = make_targets(20)
    with journal.begin_run("r1", make_spec(), targets) as w:
        for t in targets[:5]:
            w.intent_put(t.id, "fleet-patch", "r1")
            w.put_accepted(t.id)
        out = subprocess.run([sys.executable, "-c", READER, str(tmp_path)], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.stdout.split() == ["r1", "running", "20", "5"], out.stderr
        w.end("completed", {})

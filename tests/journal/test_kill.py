"""Storage-level kill test: a process writing a run is SIGKILLed at random points, again and
again; every transition it reported as committed (it prints the seq after the call returned)
is in the journal afterwards, nothing else is, and the next process takes the run over.

The printed line comes after the commit, so a kill between commit and print loses only the
report of a durable write, never the write: the journal may hold more than was reported, never
less, and always a gap-free prefix of seqs.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from fleet.journal import Journal, State
from tests.journal import make_targets

ROOT = Path(__file__).resolve().parents[2]
ITERATIONS = 24
TARGETS = 1500

WRITER = """
import sys
from fleet.errors import UnknownRun
from fleet.journal import Journal, Phase
from fleet.model import Status, TargetResult
from tests.journal import make_spec, make_targets
journal = Journal.open(sys.argv[1])
targets = make_targets(int(sys.argv[2]))
try:
    w = journal.resume_run("r1", make_spec())
except UnknownRun:
    w = journal.begin_run("r1", make_spec(), targets)
print("began", flush=True)
states = journal.target_states("r1")
for t in targets:
    phase = states[t.id].phase
    if phase is Phase.DONE:
        continue
    if phase is Phase.NOT_STARTED:
        print("INTENT_PUT", w.intent_put(t.id, "fleet-patch", "r1"), t.id, flush=True)
    if phase is not Phase.RUNNING:
        print("PUT_ACCEPTED", w.put_accepted(t.id), t.id, flush=True)
    result = TargetResult(t, Status.SUCCEEDED, exit_code=0, output="ok " * 50)
    print("FINAL", w.final(result), t.id, flush=True)
w.end("completed", {"total": len(targets)})
print("ended", flush=True)
"""


def run_and_kill(state: Path, rng: random.Random) -> tuple[list[tuple[str, int, str]], bool]:
    """Start a writer, let it report ``k`` lines (k random; 0 = kill during start-up), SIGKILL
    it, and return every transition it reported plus whether it finished first."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(state), str(TARGETS)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    for _ in range(rng.randrange(100)):
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
    proc.send_signal(signal.SIGKILL)
    rest, err = proc.communicate(timeout=60)  # reported before the kill landed: still counts
    lines += rest.splitlines(keepends=True)
    assert proc.returncode in (0, -signal.SIGKILL), err
    reported = [(p[0], int(p[1]), p[2]) for p in (x.split() for x in lines) if len(p) == 3]
    return reported, any(x.strip() == "ended" for x in lines)


def check_journal(state: Path, reported: list[tuple[str, int, str]]) -> None:
    db = state / "journal.sqlite3"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    run_rows = con.execute("SELECT count(*) FROM runs").fetchone()[0]
    con.close()
    if run_rows == 0:  # killed before begin_run committed: nothing at all may be there
        assert not reported
        return
    with Journal.open(state, writable=False) as journal:
        assert len(journal.targets("r1")) == TARGETS  # the plan is all or nothing
        stored = {x.seq: (x.state, x.target_id) for x in journal.transitions("r1")}
    assert sorted(stored) == list(range(1, len(stored) + 1))  # a gap-free prefix
    for state_name, seq, target_id in reported:
        assert stored.get(seq) == (State(state_name), target_id), f"lost seq {seq}"


def test_every_reported_write_survives_sigkill(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    state = tmp_path / "state"
    all_reported: list[tuple[str, int, str]] = []
    for iteration in range(ITERATIONS):
        reported, _finished = run_and_kill(state, rng)
        all_reported += reported
        try:
            check_journal(state, all_reported)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}, iteration {iteration}: {exc}") from exc
    # Finish the run uninterrupted: every target ends with exactly one intent and one FINAL.
    reported, finished = run_and_kill_never(state)
    assert finished
    with Journal.open(state, writable=False) as journal:
        states = journal.target_states("r1")
        assert journal.run("r1").ended == "completed"
    assert {s.last.state for s in states.values()} == {State.FINAL}
    assert all(s.intents == 1 for s in states.values()), "a target got a second intent"
    assert {t.id for t in make_targets(TARGETS)} == set(states)


def run_and_kill_never(state: Path) -> tuple[list[tuple[str, int, str]], bool]:
    done = subprocess.run([sys.executable, "-c", WRITER, str(state), str(TARGETS)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    reported = [(p[0], int(p[1]), p[2]) for p in (x.split() for x in lines) if len(p) == 3]
    return reported, "ended" in lines


BEGINNER = """
import sys
from fleet.journal import Journal
from tests.journal import make_spec, make_targets
journal = Journal.open(sys.argv[1])
targets = make_targets(3000)
print("beginning", flush=True)
journal.begin_run("r1", make_spec(), targets)
print("began", flush=True)
"""


def test_a_run_killed_while_it_begins_is_all_or_nothing(tmp_path: Path) -> None:
    """Kills land inside begin_run's one transaction (~0.1 s for 3,000 targets): afterwards
    the run is either absent or complete with its whole plan."""
    rng = random.Random()
    for iteration in range(8):
        state = tmp_path / f"state{iteration}"
        proc = subprocess.Popen([sys.executable, "-c", BEGINNER, str(state)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline() == "beginning\n"
        time.sleep(rng.uniform(0, 0.15))  # the kill point itself is what is being randomised
        proc.send_signal(signal.SIGKILL)
        began = "began" in proc.communicate(timeout=60)[0]
        con = sqlite3.connect(state / "journal.sqlite3")
        counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("runs", "targets", "transitions")]  # fmt: skip
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        assert counts in ([0, 0, 0], [1, 3000, 3000]), counts
        assert counts == [1, 3000, 3000] or not began

"""One writer per run: a second writer is refused with a clear error; a dead writer's lock is
taken over; a lock from another host is only taken with force."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.errors import JournalLocked
from fleet.journal import Journal
from fleet.journal.lock import this_host
from tests.journal import make_spec, make_targets

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys
from fleet.journal import Journal
from tests.journal import make_spec, make_targets
w = Journal.open(sys.argv[1]).begin_run("r1", make_spec(), make_targets(2))
print("locked", flush=True)
sys.stdin.read()  # hold the lock until the test closes stdin or kills us
w.end("completed", {})
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A separate process writing run r1 in ``tmp_path / 'state'``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "state")],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_a_second_writer_in_another_process_is_refused(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    journal = Journal.open(tmp_path / "state")
    with pytest.raises(JournalLocked) as caught:
        journal.resume_run("r1", make_spec())
    message = str(caught.value)
    assert f"run r1 is being written by pid {holder.pid} on host {this_host()} since" in message
    assert "released the moment it exits" in message
    assert journal.run("r1").ended == "running"  # a live writer: not crashed
    assert JournalLocked.exit_code == 3


def test_a_second_writer_in_the_same_process_is_refused(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "state")
    with (
        journal.begin_run("r1", make_spec(), make_targets(1)),
        pytest.raises(JournalLocked, match=f"pid {os.getpid()}"),
    ):
        journal.resume_run("r1", make_spec())
    with journal.resume_run("r1", make_spec()) as w:  # released on close
        w.end("completed", {})


def test_a_killed_writers_lock_is_taken_over(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    journal = Journal.open(tmp_path / "state")
    assert journal.run("r1").ended == "crashed"
    with journal.resume_run("r1", make_spec()) as w:
        w.end("completed", {})
    assert journal.run("r1").ended == "completed"


def test_a_stale_row_from_a_dead_pid_on_this_host_is_taken_over(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "state")
    with journal.begin_run("r1", make_spec(), make_targets(1)):
        pass
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    set_writer(journal.path, int(dead.stdout), this_host())
    with journal.resume_run("r1", make_spec()) as w:
        w.end("completed", {})
    con = sqlite3.connect(journal.path)
    assert con.execute("SELECT count(*) FROM writers").fetchone()[0] == 0  # released
    con.close()


def test_a_lock_recorded_by_another_host_needs_force(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "state")
    with journal.begin_run("r1", make_spec(), make_targets(1)):
        pass
    set_writer(journal.path, 4242, "build-agent-7")
    with pytest.raises(JournalLocked, match=r"pid 4242 on host build-agent-7.*--force-unlock"):
        journal.resume_run("r1", make_spec())
    assert journal.run("r1").ended == "running"  # cannot be proven dead from here
    with journal.resume_run("r1", make_spec(), force=True) as w:
        w.end("completed", {})


def set_writer(db: Path, pid: int, host: str) -> None:
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE runs SET ended = 'running'")
        con.execute("INSERT OR REPLACE INTO writers VALUES ('r1', ?, ?, '2026-01-01')", (pid, host))
    con.close()


def test_a_dead_writer_is_seen_through_its_lock_even_if_its_pid_is_reused(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    db = tmp_path / "state" / "journal.sqlite3"
    with sqlite3.connect(db) as conn:  # a live process now has the dead writer's pid
        conn.execute("UPDATE writers SET pid = ? WHERE run_id = 'r1'", (os.getpid(),))
    assert Journal.open(tmp_path / "state").run("r1").ended == "crashed"  # nobody holds the lock

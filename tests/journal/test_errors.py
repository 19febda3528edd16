"""Journal failures are clear JournalErrors and leave nothing half-written: foreign, corrupt
and damaged files, newer schemas, read-only directories, a full disk (SQLite's own SQLITE_FULL
through max_page_count, a file-size limit in a subprocess, and injected failures)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.errors import JournalError
from fleet.journal import Journal
from fleet.journal import schema as schema_module
from fleet.journal.db import connect as real_connect
from fleet.journal.schema import APPLICATION_ID, SCHEMA_VERSION
from fleet.model import Status, TargetResult
from tests.journal import make_spec, make_targets

ROOT = Path(__file__).resolve().parents[2]
NOT_A_JOURNAL = "is not a fleet journal"


def db_file(state: Path) -> Path:
    state.mkdir(parents=True, exist_ok=True)
    return state / "journal.sqlite3"


def test_a_text_file_is_not_a_journal(tmp_path: Path) -> None:
    db_file(tmp_path).write_text("hello, I am a TODO list\n")
    with pytest.raises(JournalError, match=f"{NOT_A_JOURNAL} \\(not an SQLite database\\)"):
        Journal.open(tmp_path)
    assert db_file(tmp_path).read_text() == "hello, I am a TODO list\n"  # untouched


def test_another_applications_sqlite_file_is_not_a_journal(tmp_path: Path) -> None:
    con = sqlite3.connect(db_file(tmp_path))
    con.execute("CREATE TABLE notes (body TEXT)")
    con.commit()
    con.close()
    for writable in (True, False):
        with pytest.raises(JournalError, match=f"{NOT_A_JOURNAL} .*another application"):
            Journal.open(tmp_path, writable=writable)
    con = sqlite3.connect(db_file(tmp_path))
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master")]
    con.close()
    assert tables == ["notes"]  # nothing of ours was added


def test_an_empty_file_becomes_a_journal(tmp_path: Path) -> None:
    db_file(tmp_path).touch()
    with Journal.open(tmp_path) as journal:
        assert journal.runs() == []
    con = sqlite3.connect(db_file(tmp_path))
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    con.close()


def test_a_damaged_journal_is_reported_not_misread(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal, journal.begin_run("r1", make_spec(), make_targets(300)):
        pass
    path = db_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[8192:24576] = b"\xa5" * 16384  # overwrite pages in the middle of the file
    path.write_bytes(bytes(data))
    with (
        pytest.raises(JournalError, match=r"damaged|not a fleet journal"),
        Journal.open(tmp_path, writable=False) as journal,
    ):
        journal.target_states("r1")


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    Journal.open(tmp_path).close()
    con = sqlite3.connect(db_file(tmp_path))
    with con:
        con.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    con.close()
    for writable in (True, False):
        with pytest.raises(JournalError, match=r"written by a newer fleet .*Upgrade fleet"):
            Journal.open(tmp_path, writable=writable)


def test_a_damaged_version_table_is_refused(tmp_path: Path) -> None:
    Journal.open(tmp_path).close()
    con = sqlite3.connect(db_file(tmp_path))
    with con:
        con.execute("INSERT INTO schema_version VALUES (1)")
    con.close()
    with pytest.raises(JournalError, match="schema_version table is damaged"):
        Journal.open(tmp_path)


# -- read-only directories: root ignores permissions, so drop its capabilities in a child -----

READ_ONLY_PROBE = """
import sys
from fleet.errors import JournalError
from fleet.journal import Journal
from tests.journal import make_spec, make_targets
try:
    journal = Journal.open(sys.argv[1], writable=sys.argv[2] == "rw")
    print("runs", [r.run_id for r in journal.runs()])
    if sys.argv[2] == "rw":
        journal.begin_run("r2", make_spec(), make_targets(1)).close()
        print("began r2")
except JournalError as exc:
    print("JournalError", exc)
"""


def probe(state: Path, mode: str) -> str:
    command = [sys.executable, "-c", READ_ONLY_PROBE, str(state), mode]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permissions cannot be enforced")
        caps = "-dac_override,-dac_read_search,-fowner"
        command = [setpriv, "--bounding-set", caps, "--inh-caps", caps, *command]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "state"
    with Journal.open(state) as journal, journal.begin_run("r1", make_spec(), make_targets(1)) as w:
        w.end("completed", {})
    os.chmod(state, 0o555)
    yield state
    os.chmod(state, 0o700)


def test_writing_in_a_read_only_directory_is_a_clear_error(read_only_dir: Path) -> None:
    out = probe(read_only_dir, "rw")
    assert out.startswith("JournalError") and "read-only" in out and "--state-dir" in out
    assert sorted(p.name for p in read_only_dir.iterdir()) == ["journal.sqlite3", "locks"]


def test_creating_a_state_dir_under_a_read_only_directory_is_a_clear_error(
    read_only_dir: Path,
) -> None:
    out = probe(read_only_dir / "nested", "rw")
    assert out.startswith("JournalError") and "cannot create the fleet state directory" in out


def test_reading_from_a_read_only_directory_works(read_only_dir: Path) -> None:
    assert probe(read_only_dir, "ro") == "runs ['r1']"
    assert sorted(p.name for p in read_only_dir.iterdir()) == ["journal.sqlite3", "locks"]


def test_a_read_only_journal_file_is_a_clear_error_for_writers(read_only_dir: Path) -> None:
    os.chmod(read_only_dir, 0o700)
    os.chmod(read_only_dir / "journal.sqlite3", 0o400)
    out = probe(read_only_dir, "rw")
    assert out.startswith("JournalError") and "the file is read-only" in out
    assert probe(read_only_dir, "ro") == "runs ['r1']"


# -- full disk ---------------------------------------------------------------------------------


def assert_nothing_of_run(journal: Journal, run_id: str) -> None:
    con = sqlite3.connect(journal.path)
    for table in ("runs", "targets", "transitions"):
        sql = f"SELECT count(*) FROM {table} WHERE run_id = ?"
        assert con.execute(sql, (run_id,)).fetchone()[0] == 0, table
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def limit_pages(monkeypatch: pytest.MonkeyPatch, extra_pages: int) -> None:
    """New connections may grow the file by ``extra_pages`` only: SQLite's real SQLITE_FULL."""

    def limited(path: Path, *, mode: str = "rw") -> sqlite3.Connection:
        con = real_connect(path, mode=mode)
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        con.execute(f"PRAGMA max_page_count = {pages + extra_pages}")
        return con

    monkeypatch.setattr(schema_module, "connect", limited)


def test_disk_full_while_beginning_a_run_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal.open(tmp_path)
    limit_pages(monkeypatch, 5)
    with pytest.raises(JournalError, match="is full: recording the new run failed and nothing"):
        journal.begin_run("big", make_spec(), make_targets(2000))
    assert_nothing_of_run(journal, "big")
    monkeypatch.undo()
    with journal.begin_run("big", make_spec(), make_targets(2000)) as w:  # lock was released
        w.end("completed", {})


def test_disk_full_while_writing_keeps_the_run_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = make_targets(3)
    journal = Journal.open(tmp_path)
    limit_pages(monkeypatch, 8)
    with journal.begin_run("r1", make_spec(), t) as w:
        w.intent_put(t[0].id, "fleet-patch", "r1")
        huge = TargetResult(t[0], Status.SUCCEEDED, output="x" * 200_000)
        with pytest.raises(JournalError, match=r"disk holding the fleet journal .* is full"):
            w.final(huge)
        assert w.final(TargetResult(t[0], Status.SUCCEEDED, output="ok")) == 5  # seq not lost
    assert [x.seq for x in journal.transitions("r1")] == [1, 2, 3, 4, 5]
    assert journal.final_results("r1")[t[0].id].output == "ok"


class FailingConnection(sqlite3.Connection):
    """Raises SQLite's disk-full error at a chosen statement, as a full disk would."""

    fail_on: str = ""

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:  # type: ignore[override]
        if self.fail_on and sql.startswith(self.fail_on):
            raise sqlite3.OperationalError("database or disk is full")
        return super().execute(sql, *args)

    def executemany(self, sql: str, *args: object) -> sqlite3.Cursor:  # type: ignore[override]
        if self.fail_on and sql.startswith(self.fail_on):
            raise sqlite3.OperationalError("database or disk is full")
        return super().executemany(sql, *args)


@pytest.mark.parametrize("fail_on", ["INSERT INTO transitions", "COMMIT"])
def test_injected_disk_full_leaves_no_partial_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_on: str
) -> None:
    journal = Journal.open(tmp_path)

    def failing(path: Path, *, mode: str = "rw") -> sqlite3.Connection:
        con = real_connect(path, mode=mode, factory=FailingConnection)
        con.fail_on = fail_on  # type: ignore[attr-defined]
        return con

    monkeypatch.setattr(schema_module, "connect", failing)
    with pytest.raises(JournalError, match="is full"):
        journal.begin_run("r1", make_spec(), make_targets(50))
    assert_nothing_of_run(journal, "r1")


def test_injected_disk_full_at_an_intents_commit_records_no_intent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = make_targets(2)
    connections: list[FailingConnection] = []

    def tracked(path: Path, *, mode: str = "rw") -> sqlite3.Connection:
        con = real_connect(path, mode=mode, factory=FailingConnection)
        connections.append(con)  # type: ignore[arg-type]
        return con

    monkeypatch.setattr(schema_module, "connect", tracked)
    journal = Journal.open(tmp_path)
    with journal.begin_run("r1", make_spec(), t) as w:
        connections[-1].fail_on = "COMMIT"
        with pytest.raises(JournalError, match="recording the intent to PUT failed"):
            w.intent_puts([(t[0].id, "fleet-patch", "r1"), (t[1].id, "fleet-patch", "r1")])
        connections[-1].fail_on = ""
        assert [s.intents for s in journal.target_states("r1").values()] == [0, 0]
        w.end("halted", {})


FILE_SIZE_LIMITED = """
import os, resource, signal, sys
from fleet.errors import JournalError
from fleet.journal import Journal
from fleet.model import Status, TargetResult
from tests.journal import make_spec, make_targets
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
state = sys.argv[1]
targets = make_targets(40)
w = Journal.open(state).begin_run("r1", make_spec(), targets)
used = sum(os.path.getsize(os.path.join(state, n)) for n in os.listdir(state) if "journal" in n)
resource.setrlimit(resource.RLIMIT_FSIZE, (used + 200_000, used + 200_000))
try:
    for t in targets:
        print("committed", w.final(TargetResult(t, Status.SUCCEEDED, output="x" * 30_000)),
              flush=True)
except JournalError as exc:
    print("JournalError", exc, flush=True)
"""


def test_a_file_size_limit_mid_run_is_a_clear_error_and_keeps_what_was_committed(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    done = subprocess.run([sys.executable, "-c", FILE_SIZE_LIMITED, str(state)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("JournalError") and "journal" in lines[-1], done.stderr
    committed = [int(line.split()[1]) for line in lines[:-1]]
    assert committed, "the limit left no room at all"
    with Journal.open(state) as journal:
        seqs = [x.seq for x in journal.transitions("r1")]
        assert seqs == list(range(1, max(committed) + 1))  # all committed, nothing partial
    con = sqlite3.connect(db_file(state))
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()

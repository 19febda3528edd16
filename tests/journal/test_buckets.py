"""The journal's ``buckets`` table (schema version 2): a version-1 journal migrates with its runs
kept, and ``BucketJournal.exchange`` records one process's rows and returns an identity's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fleet.journal import Journal
from fleet.journal.buckets import KEEP_S, BucketJournal
from fleet.journal.schema import APPLICATION_ID, SCHEMA_V1, SCHEMA_VERSION, _run_script
from fleet.model import BucketRecord
from tests.journal import make_spec, make_targets


def _version_1_journal(state: Path) -> None:
    """A journal as fleet wrote it before bucket records, with one run in it."""
    with Journal.open(state) as journal:
        journal.begin_run("r1", make_spec(), make_targets(3)).close()
    con = sqlite3.connect(state / "journal.sqlite3")
    con.execute("DROP TABLE buckets")
    con.execute("UPDATE schema_version SET version = 1")
    con.commit()
    con.close()


def test_a_version_1_journal_migrates_and_keeps_its_runs(tmp_path: Path) -> None:
    assert SCHEMA_VERSION >= 2  # buckets came with version 2; reboots made it 3
    _version_1_journal(tmp_path)
    with Journal.open(tmp_path) as journal:
        assert [r.run_id for r in journal.runs()] == ["r1"]
    con = sqlite3.connect(tmp_path / "journal.sqlite3")
    assert con.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    columns = [row[1] for row in con.execute("PRAGMA table_info(buckets)")]
    con.close()
    assert columns == ["identity", "bucket", "host", "pid", "level", "rate", "at"]


def test_the_version_1_script_alone_has_no_bucket_table() -> None:
    con = sqlite3.connect(":memory:")
    _run_script(con, SCHEMA_V1)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "buckets" not in names and "runs" in names


def _record(bucket: str, level: float, at: float, pid: int = 10) -> BucketRecord:
    return BucketRecord(bucket, level, 9.0, at, pid, "host-a")


def test_exchange_replaces_a_process_rows_and_returns_the_identitys(tmp_path: Path) -> None:
    with BucketJournal(tmp_path) as memory:
        assert memory.exchange("id-1", [_record("arm:s:writes", 50, 100.0)]) == [
            _record("arm:s:writes", 50, 100.0)
        ]
        memory.exchange("id-2", [_record("arm:s:writes", 1, 100.0)])  # another identity
        memory.exchange("id-1", [_record("arm:s:writes", 7, 101.0, pid=11)])  # another process
        got = memory.exchange("id-1", [_record("arm:s:writes", 20, 102.0)])
    assert sorted(got, key=lambda r: r.pid) == [
        _record("arm:s:writes", 20, 102.0),
        _record("arm:s:writes", 7, 101.0, pid=11),
    ]


def test_old_rows_are_dropped(tmp_path: Path) -> None:
    with BucketJournal(tmp_path) as memory:
        memory.exchange("id", [_record("arm:s:writes", 5, 0.0, pid=1)])
        got = memory.exchange("id", [_record("arm:s:reads", 5, KEEP_S + 1.0)])
    assert [r.bucket for r in got] == ["arm:s:reads"]


def test_bucket_rows_leave_the_runs_alone(tmp_path: Path) -> None:
    """The journal used by runs and the bucket records in the same file, two connections."""
    with Journal.open(tmp_path) as journal, BucketJournal(tmp_path) as memory:
        writer = journal.begin_run("r2", make_spec(), make_targets(2))
        memory.exchange("id", [_record("presence:*", 0, 1.0)])
        writer.close()
        assert [r.run_id for r in journal.runs()] == ["r2"]

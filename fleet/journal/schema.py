"""The journal's SQLite schema, its version, and opening a file safely.

A fleet journal is recognised by ``PRAGMA application_id`` (``APPLICATION_ID``) and carries
its schema version in the one-row ``schema_version`` table. Opening a file:

- not an SQLite file, or an SQLite file of another application → "not a fleet journal";
- an empty SQLite file (0 bytes, or no tables) → the schema is created (one transaction);
- a fleet journal with an older version → migrated in one transaction (``MIGRATIONS``);
- a newer version → refused: an older fleet must not write what it does not understand.

Tables: ``runs`` (one row per run), ``targets`` (the run's plan), ``transitions`` (append-only:
a trigger refuses UPDATE), ``writers`` (who holds a run's writer lock, for messages and
stale-lock detection), and since version 2 ``buckets`` (each process's last word on Azure's
throttling buckets, per identity: ``fleet.journal.buckets``). Foreign keys are on, so a
transition for an unplanned target fails.

Version 3 allows the reboot transitions (``INTENT_REBOOT``, ``REBOOT_ACCEPTED``,
``REBOOT_FAILED``) in ``transitions.state``: SQLite cannot change a CHECK constraint in place,
so the table is rebuilt, its rows, index and trigger kept.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from fleet.errors import JournalError
from fleet.journal.db import (
    SQLITE_MAGIC,
    connect,
    guard,
    is_read_only_error,
    transaction,
    translate,
)

APPLICATION_ID = 0x666C7431  # "flt1"
SCHEMA_VERSION = 3

_STATES = "'SELECTED','INTENT_PUT','PUT_ACCEPTED','PUT_FAILED','POLLED','FINAL'"


def _transitions(table: str, states: str) -> str:
    return f"""CREATE TABLE {table} (
    run_id      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    target_id   TEXT NOT NULL,
    at          TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ({states})),
    detail_json TEXT NOT NULL,
    PRIMARY KEY (run_id, seq),
    FOREIGN KEY (run_id, target_id) REFERENCES targets (run_id, target_id)
);"""


_TRANSITIONS_INDEX = """CREATE INDEX transitions_by_target ON transitions (run_id, target_id, seq);
CREATE TRIGGER transitions_append_only BEFORE UPDATE ON transitions
BEGIN
    SELECT RAISE(ABORT, 'journal transitions are append-only');
END;"""

SCHEMA_V1 = f"""
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE runs (
    run_id       TEXT PRIMARY KEY,
    job          TEXT NOT NULL,
    source       TEXT NOT NULL,
    spec_json    TEXT NOT NULL,
    spec_hash    TEXT NOT NULL,
    script_hash  TEXT NOT NULL,
    who          TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    ended_at     TEXT,
    ended        TEXT NOT NULL,
    target_count INTEGER NOT NULL,
    resumes      INTEGER NOT NULL DEFAULT 0,
    summary_json TEXT,
    report_json  TEXT,
    recipe_json  TEXT
);
CREATE INDEX runs_by_start ON runs (started_at);
CREATE TABLE targets (
    run_id         TEXT NOT NULL REFERENCES runs (run_id),
    target_id      TEXT NOT NULL,
    ord            INTEGER NOT NULL,
    batch          INTEGER NOT NULL,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    subscription   TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    location       TEXT NOT NULL,
    zone           TEXT,
    os             TEXT,
    power_state    TEXT,
    scale_set      TEXT,
    instance_id    TEXT,
    fault_domain   INTEGER,
    tags_json      TEXT NOT NULL,
    PRIMARY KEY (run_id, target_id)
);
{_transitions("transitions", _STATES)}
{_TRANSITIONS_INDEX}
CREATE TABLE writers (
    run_id TEXT PRIMARY KEY,
    pid    INTEGER NOT NULL,
    host   TEXT NOT NULL,
    since  TEXT NOT NULL
);
"""

# Version 2: throttling buckets across processes (issue #17). ``identity`` is a hash of (ARM
# endpoint, principal), never a token; ``at`` is unix time; one row per bucket and process.
SCHEMA_V2 = """
CREATE TABLE buckets (
    identity TEXT NOT NULL,
    bucket   TEXT NOT NULL,
    host     TEXT NOT NULL,
    pid      INTEGER NOT NULL,
    level    REAL NOT NULL,
    rate     REAL NOT NULL,
    at       REAL NOT NULL,
    PRIMARY KEY (identity, bucket, host, pid)
);
CREATE INDEX buckets_by_time ON buckets (at);
"""

_STATES_V3 = _STATES + ",'INTENT_REBOOT','REBOOT_ACCEPTED','REBOOT_FAILED'"

# Version 3: reboots (issue #19) add three transition states.
SCHEMA_V3 = f"""
{_transitions("transitions_v3", _STATES_V3)}
INSERT INTO transitions_v3 (run_id, seq, target_id, at, state, detail_json)
    SELECT run_id, seq, target_id, at, state, detail_json FROM transitions;
DROP TABLE transitions;
ALTER TABLE transitions_v3 RENAME TO transitions;
{_TRANSITIONS_INDEX}
"""

# version N -> the script taking a version N-1 journal to N.
MIGRATIONS: dict[int, str] = {2: SCHEMA_V2, 3: SCHEMA_V3}


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute ``script`` statement by statement inside the caller's transaction
    (``executescript`` would COMMIT it). ``complete_statement`` keeps trigger bodies whole."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            conn.execute(pending)
            pending = ""
    if pending.strip():
        message = f"incomplete statement in the journal schema: {pending.strip()[:60]}"
        raise ValueError(message)


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as exc:
        message = f"cannot read the fleet journal {path}: {exc.strerror or exc}"
        raise JournalError(message) from exc
    if head and head != SQLITE_MAGIC:
        message = (
            f"{path} is not a fleet journal (not an SQLite database). Move it aside, or point "
            "--state-dir / FLEET_STATE_DIR at another directory."
        )
        raise JournalError(message)


def _foreign(path: Path, why: str) -> JournalError:
    message = (
        f"{path} is not a fleet journal ({why}). Move it aside, or point --state-dir / "
        "FLEET_STATE_DIR at another directory."
    )
    return JournalError(message)


def _version(conn: sqlite3.Connection, path: Path) -> int:
    rows = conn.execute("SELECT version FROM schema_version").fetchall()
    if len(rows) != 1:
        raise _foreign(path, "its schema_version table is damaged")
    return int(rows[0][0])


def _create_or_migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Inside a write transaction: initialise an empty file or migrate an older journal."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id == 0 and tables == 0:
        _run_script(conn, SCHEMA_V1)
        conn.execute("INSERT INTO schema_version (version) VALUES (1)")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        app_id = APPLICATION_ID
    if app_id != APPLICATION_ID:
        raise _foreign(path, "an SQLite database of another application")
    version = _version(conn, path)
    for target in range(version + 1, SCHEMA_VERSION + 1):
        _run_script(conn, MIGRATIONS[target])
        conn.execute("UPDATE schema_version SET version = ?", (target,))


def _check_version(conn: sqlite3.Connection, path: Path) -> int:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if app_id != APPLICATION_ID:
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        why = "an empty database" if tables == 0 else "an SQLite database of another application"
        raise _foreign(path, why)
    version = _version(conn, path)
    if version > SCHEMA_VERSION:
        message = (
            f"the fleet journal {path} was written by a newer fleet (schema version {version}; "
            f"this fleet understands up to {SCHEMA_VERSION}). Upgrade fleet to read it."
        )
        raise JournalError(message)
    return version


def prepare(conn: sqlite3.Connection, path: Path, *, writable: bool) -> None:
    """Check (and, when ``writable``, create or migrate) the journal behind ``conn``."""
    _check_header(path)
    with guard(path, "opening the journal"):
        conn.execute("PRAGMA foreign_keys = ON")
        if writable:
            # macOS: a plain fsync does not reach the platter; F_FULLFSYNC does (no-op elsewhere).
            conn.execute("PRAGMA fullfsync = ON")
            conn.execute("PRAGMA checkpoint_fullfsync = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise _foreign(path, f"cannot switch it to WAL mode (mode is {mode})")
        version = _check_version_or_empty(conn, path, writable=writable)
    if writable and version < SCHEMA_VERSION:
        with transaction(conn, path, "creating the journal schema", durable=True):
            _create_or_migrate(conn, path)
        with guard(path, "opening the journal"):
            _check_version(conn, path)


def _check_version_or_empty(conn: sqlite3.Connection, path: Path, *, writable: bool) -> int:
    """The schema version, or 0 for a file with nothing in it yet (writable opens only)."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if writable and app_id == 0 and tables == 0:
        return 0
    return _check_version(conn, path)


def _create_private(path: Path) -> None:
    """Create the file before SQLite does, so it is private (0600) from the first byte."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if not os.access(path, os.R_OK | os.W_OK):
            message = (
                f"cannot write the fleet journal {path}: the file is read-only. "
                "Choose a writable place with --state-dir or FLEET_STATE_DIR."
            )
            raise JournalError(message) from None
    except OSError as exc:
        message = (
            f"cannot create the fleet journal {path}: {exc.strerror or exc}. "
            "Choose a writable place with --state-dir or FLEET_STATE_DIR."
        )
        raise JournalError(message) from exc


def _connect_prepared(path: Path, mode: str) -> sqlite3.Connection:
    try:
        conn = connect(path, mode=mode)
    except sqlite3.Error as exc:
        raise translate(exc, path, "opening the journal") from exc
    try:
        prepare(conn, path, writable=mode == "rw")
    except BaseException:
        conn.close()
        raise
    return conn


def open_db(path: Path, *, writable: bool) -> sqlite3.Connection:
    """A checked connection to the journal at ``path`` (created and migrated when writable)."""
    if writable:
        _create_private(path)
        return _connect_prepared(path, "rw")
    try:
        return _connect_prepared(path, "ro")
    except JournalError as exc:
        if exc.__cause__ is None or not is_read_only_error(exc.__cause__):
            raise
    return _connect_prepared(path, "immutable")  # a directory we may read but not write

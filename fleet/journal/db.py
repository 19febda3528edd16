"""SQLite plumbing for the journal: connections, transactions, and turning ``sqlite3`` errors into
:class:`~fleet.errors.JournalError` messages an operator can act on.

Connections run in autocommit mode (``isolation_level=None``) and every write is an explicit
``BEGIN IMMEDIATE … COMMIT``: a statement that fails (disk full, I/O error) rolls the whole
transaction back, so a later reader or resume never sees half of a write.

Durability is chosen per transaction: ``durable=True`` commits with ``synchronous=FULL`` (the
WAL is fsynced before COMMIT returns: used for run creation, a group commit holding a
write-ahead intent or a rollout event (``fleet.journal.committer``) and the end of a run);
``durable=False`` uses ``synchronous=NORMAL`` (no fsync; the data is in the OS cache,
survives the process being killed, and becomes durable with the next FULL commit or
checkpoint — losing it to a power cut only costs an extra GET on resume).

Messages never include bound parameter values (they may be script output).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from fleet.errors import JournalError

BUSY_TIMEOUT_S = 15.0  # other fleet processes writing other runs to the same file
SQLITE_MAGIC = b"SQLite format 3\x00"


def connect(
    path: Path, *, mode: str = "rw", factory: type[sqlite3.Connection] = sqlite3.Connection
) -> sqlite3.Connection:
    """A connection usable from worker threads (the caller serialises access).

    ``mode``: ``rw`` (writers), ``ro`` (readers: never write, never create), or ``immutable``
    (readers of a WAL journal in a directory they cannot write, where SQLite cannot create the
    ``-shm`` file it needs to coordinate with writers: read as a plain file).
    """
    query = {"rw": "mode=rw", "ro": "mode=ro", "immutable": "mode=ro&immutable=1"}[mode]
    uri = f"{path.resolve().as_uri()}?{query}"
    return sqlite3.connect(
        uri,
        uri=True,
        timeout=BUSY_TIMEOUT_S,
        isolation_level=None,
        check_same_thread=False,
        factory=factory,  # tests inject failures through a subclass
    )


def is_read_only_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.Error) and _kind(exc) == "readonly"


def _kind(exc: sqlite3.Error) -> str:
    """A coarse classification; injected errors in tests carry only a message."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if name == "SQLITE_FULL" or "disk is full" in text:
        return "full"
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) or any(
        s in text for s in ("readonly", "read-only", "unable to open")
    ):
        return "readonly"
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or any(
        s in text for s in ("not a database", "malformed", "corrupt")
    ):
        return "corrupt"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return "busy"
    if name.startswith("SQLITE_IOERR") or "disk i/o" in text:
        return "io"
    return "other"


def translate(exc: sqlite3.Error, path: Path, action: str) -> JournalError:
    """The JournalError to raise for ``exc`` raised while doing ``action`` on ``path``."""
    kind = _kind(exc)
    if kind == "full":
        message = (
            f"the disk holding the fleet journal {path} is full: {action} failed and nothing "
            "of it was recorded. Free some space, then resume the run (fleet resume RUN_ID)."
        )
    elif kind == "readonly":
        message = (
            f"cannot write the fleet journal {path}: the file or its directory is read-only "
            f"({exc}). Choose a writable place with --state-dir or FLEET_STATE_DIR."
        )
    elif kind == "corrupt":
        message = (
            f"{path} is not a fleet journal or is damaged ({exc}). Move it aside, or point "
            "--state-dir / FLEET_STATE_DIR at another directory."
        )
    elif kind == "busy":
        message = (
            f"the fleet journal {path} stayed locked by another process for more than "
            f"{BUSY_TIMEOUT_S:.0f}s while {action}; try again."
        )
    elif kind == "io":
        message = f"I/O error on the fleet journal {path} while {action} (is the disk full?): {exc}"
    else:
        message = f"fleet journal {path}: {action} failed: {exc}"
    return JournalError(message)


@contextlib.contextmanager
def guard(path: Path, action: str) -> Iterator[None]:
    """Re-raise any sqlite3 error inside as a JournalError about ``action``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise translate(exc, path, action) from exc


@contextlib.contextmanager
def transaction(
    conn: sqlite3.Connection, path: Path, action: str, *, durable: bool
) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE … COMMIT``, rolled back entirely on any error."""
    with guard(path, action):
        conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            # SQLite may already have rolled back (SQLITE_FULL does); ROLLBACK must not mask
            # the original error.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise


@contextlib.contextmanager
def snapshot(conn: sqlite3.Connection, path: Path, action: str) -> Iterator[sqlite3.Connection]:
    """A read transaction: every query inside sees the same committed state (WAL snapshot)."""
    with guard(path, action):
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("COMMIT")

"""One writer per run: an advisory ``fcntl.flock`` on ``STATE_DIR/locks/RUN_ID.lock`` plus a
``writers`` row (pid, host, since) that names the holder in messages.

The flock is the real guarantee: the kernel drops it when its process dies, however it dies
(SIGKILL included), so a lock we can take is never held by a live process on this machine and
the previous ``writers`` row is stale: it is taken over. The row covers what a flock cannot:

- a second writer is refused with "run X is being written by pid N on host H since T";
- a row from another host whose lock we *can* take (a network file system where flock is
  host-local) cannot be proven stale from here: refused unless ``force=True``;
- readers (``fleet runs``) report a "running" run as crashed when its writer is provably gone:
  on this host, when nobody holds the run's flock (``lock_held``: a shared, non-blocking
  test, released at once — a reused pid cannot fool it), else when the row names a dead pid.

Windows has no fcntl: there the row alone decides (same-host pid check), which is weaker.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog

from fleet.errors import JournalLocked
from fleet.journal.codec import iso
from fleet.journal.db import guard, transaction
from fleet.journal.paths import lock_path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # no flock here: the writers row alone guards

log = structlog.get_logger("fleet.journal")


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    since: str


def this_host() -> str:
    return socket.gethostname()


def default_who() -> str:
    """``user@host`` of this process, for the runs table."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (containers): the uid still says who
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{this_host()}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return True  # cannot tell: assume alive (the safe answer for a lock)
    return True


def writer_alive(holder: Holder | None) -> bool | None:
    """True/False when provable from here, None when the holder is on another host."""
    if holder is None:
        return False
    if holder.host != this_host():
        return None
    return pid_alive(holder.pid)


def lock_held(path: Path) -> bool | None:
    """Whether a live process holds the writer lock file ``path`` (None: cannot tell here)."""
    if fcntl is None:  # pragma: no cover - Windows
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # releases the shared lock if we got it
    return False


def read_holder(conn: sqlite3.Connection, run_id: str) -> Holder | None:
    row = conn.execute(
        "SELECT pid, host, since FROM writers WHERE run_id = ?", (run_id,)
    ).fetchone()
    return Holder(*row) if row else None


def _busy(run_id: str, holder: Holder | None) -> JournalLocked:
    who = f"pid {holder.pid} on host {holder.host} since {holder.since}" if holder else "a process"
    message = (
        f"run {run_id} is being written by {who}. Only one fleet process may write a run; wait "
        "for it to finish or stop it — its lock is released the moment it exits, whatever the "
        "cause, after which `fleet resume` can continue the run."
    )
    return JournalLocked(message)


def _foreign_host(run_id: str, holder: Holder) -> JournalLocked:
    message = (
        f"run {run_id} was being written by pid {holder.pid} on host {holder.host} since "
        f"{holder.since}; fleet cannot tell from {this_host()} whether that process is still "
        "running. If it is gone, resume with --force-unlock."
    )
    return JournalLocked(message)


class WriterLock:
    """Held for the life of a RunWriter; ``release`` is idempotent."""

    def __init__(self, fd: int | None, conn: sqlite3.Connection, db: Path, run_id: str) -> None:
        self._fd = fd
        self._conn: sqlite3.Connection | None = conn
        self._db = db
        self.run_id = run_id

    @classmethod
    def acquire(
        cls,
        state_dir: Path,
        conn: sqlite3.Connection,
        db: Path,
        run_id: str,
        *,
        now: datetime,
        force: bool = False,
    ) -> WriterLock:
        acquired, fd = _flock(lock_path(state_dir, run_id))
        try:
            with guard(db, "reading the run's writer"):
                holder = read_holder(conn, run_id)
            alive = writer_alive(holder)
            if not acquired or (fd is None and alive):  # without fcntl the row is all we have
                raise _busy(run_id, holder)
            if holder is not None and alive is None and not force:
                raise _foreign_host(run_id, holder)
            if holder is not None:
                stale = {"pid": holder.pid, "host": holder.host, "since": holder.since}
                log.warning("journal.lock_taken_over", run_id=run_id, **stale)
            row = (run_id, os.getpid(), this_host(), iso(now))
            with transaction(conn, db, "taking the run's writer lock", durable=True):
                conn.execute("INSERT OR REPLACE INTO writers VALUES (?, ?, ?, ?)", row)
        except BaseException:
            _unlock(fd)
            raise
        return cls(fd, conn, db, run_id)

    def release(self) -> None:
        """Drop the writers row (best effort: a stale row is harmless) and the flock."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with (
                contextlib.suppress(Exception),
                transaction(conn, self._db, "releasing the writer lock", durable=False),
            ):
                conn.execute(
                    "DELETE FROM writers WHERE run_id = ? AND pid = ?", (self.run_id, os.getpid())
                )
        _unlock(self._fd)
        self._fd = None


def _flock(path: Path) -> tuple[bool, int | None]:
    """(acquired, fd holding the lock). Without fcntl: (True, None)."""
    if fcntl is None:  # pragma: no cover - Windows
        return True, None
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by children (PEP 446)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False, None
    return True, fd


def _unlock(fd: int | None) -> None:
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.close(fd)  # closing the only descriptor releases the flock

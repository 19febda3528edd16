"""The journal's ``buckets`` table: each fleet process's last word on Azure's throttling buckets,
per identity (issue #17). It implements ``fleet.ports.BucketMemory`` for the Azure backend's
bucket keeper (``fleet.azure.bucket_keeper``), which calls :meth:`BucketJournal.exchange` from a
worker thread a few times a second:

* a run resumed after a crash starts each bucket from the crashed process's last estimate plus
  the refill since, instead of a full bucket;
* processes of one identity on one machine (one state directory) see each other's heartbeats and
  split the buckets they share.

Writes are small and not fsynced (``durable=False``): losing the last one to a power cut costs
an estimate, which the first answer from Azure corrects anyway. Rows older than
:data:`KEEP_S` are dropped. Values are numbers and bucket names (ids of subscriptions, regions,
policies); nothing secret.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from fleet.journal.db import guard, transaction
from fleet.journal.paths import db_path
from fleet.journal.schema import open_db
from fleet.model import BucketRecord

KEEP_S = 24 * 3600.0


class BucketJournal:
    """``exchange`` records a process's bucket rows and reads every row of an identity."""

    def __init__(self, state_dir: Path) -> None:
        self.path = db_path(Path(state_dir))
        self._lock = threading.Lock()  # one connection, used from worker threads in turn
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_db(self.path, writable=True)
        return self._conn

    def exchange(self, identity: str, mine: Sequence[BucketRecord]) -> list[BucketRecord]:
        rows = [(identity, r.bucket, r.host, r.pid, r.level, r.rate, r.at) for r in mine]
        newest = max((r.at for r in mine), default=None)
        with self._lock:
            conn = self._connection()
            with transaction(conn, self.path, "recording throttle buckets", durable=False):
                conn.executemany("INSERT OR REPLACE INTO buckets VALUES (?,?,?,?,?,?,?)", rows)
                if newest is not None:
                    conn.execute("DELETE FROM buckets WHERE at < ?", (newest - KEEP_S,))
            with guard(self.path, "reading throttle buckets"):
                found = conn.execute(
                    "SELECT bucket, level, rate, at, pid, host FROM buckets WHERE identity = ?",
                    (identity,),
                ).fetchall()
        return [BucketRecord(b, lv, rt, at, pid, host) for b, lv, rt, at, pid, host in found]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> BucketJournal:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

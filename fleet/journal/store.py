"""Journal: opens the state directory's database, starts or resumes a run's writer, and answers
the readers (``fleet runs``, ``fleet show``, resume).

One SQLite file holds every run (``fleet.journal.paths``). WAL mode lets any number of readers
(``fleet runs`` while a run is in progress, even in another process) read a consistent snapshot
while one writer appends; every reader method runs in one read transaction. Each RunWriter has
its own connection, so its transactions never mix with a reader's in the same process.

Files are created private (directory 0700, database 0600): outputs may be sensitive even with
secret values scrubbed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from fleet.errors import JournalError, UnknownRun
from fleet.journal import codec, spec_record, timings
from fleet.journal.db import guard, snapshot, transaction
from fleet.journal.lock import (
    WriterLock,
    default_who,
    lock_held,
    read_holder,
    this_host,
    writer_alive,
)
from fleet.journal.paths import check_run_id, db_path, lock_path
from fleet.journal.records import (
    CRASHED,
    RUNNING,
    JournalTarget,
    LatestState,
    PlannedTarget,
    RunRecord,
    Transition,
    classify,
)
from fleet.journal.rollout import JournaledRollout, fold
from fleet.journal.schema import open_db
from fleet.journal.writer import RunWriter, record_new_run
from fleet.model import JobSpec, Target, TargetResult
from fleet.secrets import Secrets


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _ensure_dir(state_dir: Path) -> None:
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        message = (
            f"cannot create the fleet state directory {state_dir}: {exc.strerror or exc}. "
            "Choose another with --state-dir or FLEET_STATE_DIR."
        )
        raise JournalError(message) from exc
    if not os.access(state_dir, os.W_OK | os.X_OK):
        message = (
            f"the fleet state directory {state_dir} is read-only. "
            "Choose a writable one with --state-dir or FLEET_STATE_DIR."
        )
        raise JournalError(message)


class Journal:
    def __init__(self, state_dir: Path, *, writable: bool, now: Callable[[], datetime]) -> None:
        self.state_dir = state_dir
        self.path = db_path(state_dir)
        self.writable = writable
        self._now = now
        self._read_lock = threading.Lock()  # one reader connection, usable from any thread
        self._conn = self._open_connection()

    @classmethod
    def open(
        cls,
        state_dir: str | os.PathLike[str],
        *,
        writable: bool = True,
        now: Callable[[], datetime] = _utcnow,
    ) -> Journal:
        """Open (and when ``writable``, create) the journal in ``state_dir``.

        Read-only opens never create anything: a missing journal is a JournalError.
        """
        state_dir = Path(state_dir)
        if writable:
            _ensure_dir(state_dir)
        elif not db_path(state_dir).exists():
            message = f"no fleet journal in {state_dir} (no run has been recorded there yet)"
            raise JournalError(message)
        return cls(state_dir, writable=writable, now=now)

    def _open_connection(self) -> sqlite3.Connection:
        return open_db(self.path, writable=self.writable)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writers ----------------------------------------------------------------------------

    def begin_run(
        self,
        run_id: str,
        spec: JobSpec,
        targets: Sequence[PlannedTarget | Target],
        *,
        who: str | None = None,
        recipe: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> RunWriter:
        """Record a new run, its planned targets and their SELECTED transitions in one durable
        transaction, and return its writer (holding the run's writer lock). ``recipe`` is what
        the caller needs to rebuild the spec on resume (secret values are scrubbed from it).
        ``at``: when it started, if not now (a run made elsewhere, recorded afterwards)."""
        check_run_id(run_id)
        planned = [t if isinstance(t, PlannedTarget) else PlannedTarget(t) for t in targets]
        conn, lock = self._writer_connection(run_id, force=False)
        try:
            with guard(self.path, "looking the run up"):
                exists = conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if exists:
                message = f"run {run_id} already exists in {self.path}; use fleet resume"
                raise JournalError(message)
            who = who or default_who()
            started = at or self._now()
            record_new_run(
                conn, self.path, run_id, spec, planned, who=who, at=started, recipe=recipe
            )
        except BaseException:
            lock.release()
            conn.close()
            raise
        return self._writer(conn, lock, run_id, spec, next_seq=len(planned) + 1)

    def resume_run(self, run_id: str, spec: JobSpec, *, force: bool = False) -> RunWriter:
        """Take over writing an existing run. ``spec`` must hash like the run's original spec
        (secret values may differ: they are not part of the hash). ``force`` takes over a lock
        held by another host that cannot be proven dead from here."""
        record = self.run(run_id)
        if spec_record.spec_hash(spec) != record.spec_hash:
            message = (
                f"the job spec differs from the one run {run_id} started with (spec hash "
                f"{record.spec_hash[:12]}…); resume needs the same spec — only secret values "
                "may change."
            )
            raise JournalError(message)
        conn, lock = self._writer_connection(run_id, force=force)
        try:
            with transaction(conn, self.path, "reopening the run", durable=True):
                conn.execute(
                    "UPDATE runs SET ended = ?, ended_at = NULL, resumes = resumes + 1 "
                    "WHERE run_id = ?",
                    (RUNNING, run_id),
                )
            with guard(self.path, "reading the run's last transition"):
                sql = "SELECT coalesce(max(seq), 0) FROM transitions WHERE run_id = ?"
                row = conn.execute(sql, (run_id,)).fetchone()
        except BaseException:
            lock.release()
            conn.close()
            raise
        return self._writer(conn, lock, run_id, spec, next_seq=row[0] + 1)

    def _writer_connection(
        self, run_id: str, *, force: bool
    ) -> tuple[sqlite3.Connection, WriterLock]:
        if not self.writable:
            message = f"the journal {self.path} was opened read-only"
            raise JournalError(message)
        conn = self._open_connection()
        try:
            lock = WriterLock.acquire(
                self.state_dir, conn, self.path, run_id, now=self._now(), force=force
            )
        except BaseException:
            conn.close()
            raise
        return conn, lock

    def _writer(
        self, conn: sqlite3.Connection, lock: WriterLock, run_id: str, spec: JobSpec, next_seq: int
    ) -> RunWriter:
        secrets = Secrets.from_spec(spec)
        return RunWriter(
            conn, self.path, lock, run_id, next_seq=next_seq, secrets=secrets, now=self._now
        )

    # -- readers ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _read(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._read_lock, snapshot(self._conn, self.path, action) as conn:
            yield conn

    def _ended(self, conn: sqlite3.Connection, run_id: str, stored: str) -> str:
        if stored != RUNNING:
            return stored
        holder = read_holder(conn, run_id)
        if holder is not None and holder.host == this_host():
            held = lock_held(lock_path(self.state_dir, run_id))
            if held is not None:
                return RUNNING if held else CRASHED
        return CRASHED if writer_alive(holder) is False else RUNNING

    def runs(self, limit: int | None = 50) -> list[RunRecord]:
        """The most recent runs first; ``limit=None`` for all of them."""
        sql = f"SELECT {codec.RUN_COLUMNS} FROM runs ORDER BY started_at DESC, run_id DESC"
        with self._read("listing runs") as conn:
            rows = conn.execute(sql + " LIMIT ?", (-1 if limit is None else limit,)).fetchall()
            return [codec.run_from_row(r, self._ended(conn, r[0], r[9])) for r in rows]

    def run(self, run_id: str) -> RunRecord:
        with self._read("reading a run") as conn:
            row = conn.execute(
                f"SELECT {codec.RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None:
                message = f"no run {run_id} in the fleet journal {self.path}"
                raise UnknownRun(message)
            return codec.run_from_row(row, self._ended(conn, run_id, row[9]))

    def targets(self, run_id: str) -> list[JournalTarget]:
        """The run's planned targets in plan order."""
        self.run(run_id)
        with self._read("reading the run's targets") as conn:
            rows = conn.execute(
                f"SELECT {codec.TARGET_COLUMNS} FROM targets WHERE run_id = ? ORDER BY ord",
                (run_id,),
            ).fetchall()
        return [codec.target_from_row(r) for r in rows]

    def transitions(self, run_id: str, target_id: str | None = None) -> list[Transition]:
        sql = "SELECT run_id, seq, target_id, at, state, detail_json FROM transitions"
        if target_id is None:
            query: tuple[str, tuple[Any, ...]] = (f"{sql} WHERE run_id = ? ORDER BY seq", (run_id,))
        else:
            query = (f"{sql} WHERE run_id = ? AND target_id = ? ORDER BY seq", (run_id, target_id))
        with self._read("reading transitions") as conn:
            rows = conn.execute(*query).fetchall()
        return [codec.transition_from_row(r) for r in rows]

    def rollout(self, run_id: str) -> JournaledRollout:
        """The run's batches started and gate verdicts so far, as journaled (version 4; a
        journal of an older version, opened read-only and so not migrated, has none)."""
        sql = (
            "SELECT run_id, seq, at, kind, batch, detail_json FROM rollout_events "
            "WHERE run_id = ? ORDER BY seq"
        )
        with self._read("reading the rollout's events") as conn:
            table = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rollout_events'"
            ).fetchone()
            rows = conn.execute(sql, (run_id,)).fetchall() if table else []
        return fold([codec.rollout_event_from_row(r) for r in rows])

    def target_states(self, run_id: str) -> dict[str, LatestState]:
        """Every planned target's latest state (what resume must do with it), in plan order."""
        self.run(run_id)
        by_target: dict[str, list[Transition]] = defaultdict(list)
        for t in self.transitions(run_id):
            by_target[t.target_id].append(t)
        return {tid: classify(tid, ts) for tid, ts in by_target.items()}

    def final_results(self, run_id: str) -> dict[str, TargetResult]:
        """The recorded final result of every target that has one."""
        targets = {jt.target.id: jt.target for jt in self.targets(run_id)}
        states = self.target_states(run_id)
        return {
            tid: codec.result_from_final(targets[tid], s.final)
            for tid, s in states.items()
            if s.final is not None
        }

    def script_times(
        self,
        job: str,
        *,
        runs: int = 10,
        script_hash: str | None = None,
        exclude: str | None = None,
        mode: str = "managed",
    ) -> list[tuple[int, str, float]]:
        """How long ``job``'s script ran on each target in its latest ``runs`` runs in ``mode``
        (other than ``exclude``; those with ``script_hash`` if any): (runs ago, target id,
        seconds)."""
        with self._read("reading the job's script run times") as conn:
            run_ids = timings.latest_runs(conn, job, runs, script_hash, exclude, mode)
            return timings.script_times(conn, run_ids)

    def report_json(self, run_id: str) -> dict[str, Any] | None:
        self.run(run_id)
        with self._read("reading the run's report") as conn:
            row = conn.execute(
                "SELECT report_json FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        stored: dict[str, Any] | None = codec.loads(row[0])
        return stored

"""The service's own state, beside the run journal in the state directory (``serve.db``,
SQLite, private): what a restart must know that the journal does not.

    fires        every fire of every schedule and what became of it (the last 500 per job):
                 the scheduler's ``FireLog`` — the latest fire tells missed fires from new ones
    launches     runs the service launched, and how far each got (launching, running, ended,
                 never-started, abandoned): a restart resumes the ones a killed service left
    evaluations  runs whose regressions were computed, with the alerts they raised, in one
                 transaction: a restart never alerts twice for a run
    alerts, deliveries   each alert and its delivery to each webhook (pending, delivered,
                 failed), so pending deliveries are retried after a restart
    job_state    per job, whether its last run failed (``run-failure`` alerts on the change)

Webhooks are named by their environment variable; URLs are never stored. One connection,
used from the service's event loop (calls are short; a lock makes them thread-safe too).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleet.errors import JournalError
from fleet.model import AlertKind
from fleet.schedule import FireOutcome, FireRecord
from fleet.serve.view import AlertRecord, Delivery

FILE = "serve.db"
VERSION = 1
_KEEP_FIRES = 500

SCHEMA = """
CREATE TABLE IF NOT EXISTS fires (
    id INTEGER PRIMARY KEY, job TEXT NOT NULL, nominal TEXT NOT NULL, at TEXT NOT NULL,
    outcome TEXT NOT NULL, detail TEXT NOT NULL, run_id TEXT);
CREATE INDEX IF NOT EXISTS fires_by_job ON fires (job, id);
CREATE TABLE IF NOT EXISTS launches (
    run_id TEXT PRIMARY KEY, job TEXT NOT NULL, nominal TEXT NOT NULL, at TEXT NOT NULL,
    state TEXT NOT NULL, detail TEXT);
CREATE TABLE IF NOT EXISTS evaluations (
    run_id TEXT PRIMARY KEY, job TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY, job TEXT NOT NULL, run_id TEXT NOT NULL, kind TEXT NOT NULL,
    created_at TEXT NOT NULL, summary TEXT NOT NULL, targets_json TEXT NOT NULL,
    body_json TEXT NOT NULL, UNIQUE (run_id, kind));
CREATE TABLE IF NOT EXISTS deliveries (
    alert_id INTEGER NOT NULL REFERENCES alerts (id), webhook TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    delivered_at TEXT, PRIMARY KEY (alert_id, webhook));
CREATE TABLE IF NOT EXISTS job_state (job TEXT PRIMARY KEY, run_failed INTEGER NOT NULL);
"""

# launches.state
LAUNCHING, RUNNING, ENDED = "launching", "running", "ended"
NEVER_STARTED, ABANDONED = "never-started", "abandoned"
# deliveries.state
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class NewAlert:
    """An alert to record: what, about which targets, the body to send (no secrets)."""

    kind: AlertKind
    summary: str
    targets: tuple[str, ...]
    body: dict[str, Any]


@dataclass(frozen=True)
class PendingDelivery:
    alert_id: int
    webhook: str  # the environment variable naming the webhook
    attempts: int
    job: str
    kind: AlertKind
    body: dict[str, Any]


@dataclass(frozen=True)
class Launch:
    run_id: str
    job: str
    state: str


class ServeStore:
    def __init__(self, state_dir: Path) -> None:
        path = state_dir / FILE
        try:
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > VERSION:
                raise JournalError(f"{path} was written by a newer fleet serve; upgrade fleet")
            self._conn.executescript(SCHEMA + f"PRAGMA user_version = {VERSION};")
        except (OSError, sqlite3.Error) as exc:
            message = f"cannot open the service state {path}: {exc}. Choose another --state-dir."
            raise JournalError(message) from exc
        self.path = path
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # -- fires (the scheduler's FireLog) -----------------------------------------------------

    def last_nominal(self, job: str) -> datetime | None:
        rows = self._rows("SELECT max(nominal) FROM fires WHERE job = ?", (job,))
        return _when(rows[0][0]) if rows and rows[0][0] else None

    def record(self, record: FireRecord) -> None:
        row = (record.job, _iso(record.nominal), _iso(record.at), record.outcome.value)
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO fires (job, nominal, at, outcome, detail, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (*row, record.detail, record.run_id),
            )
            conn.execute(
                "DELETE FROM fires WHERE job = ? AND id NOT IN "
                "(SELECT id FROM fires WHERE job = ? ORDER BY id DESC LIMIT ?)",
                (record.job, record.job, _KEEP_FIRES),
            )

    def recent(self, job: str, limit: int) -> list[FireRecord]:
        rows = self._rows(
            "SELECT job, nominal, at, outcome, detail, run_id FROM fires WHERE job = ? "
            "ORDER BY id DESC LIMIT ?",
            (job, limit),
        )
        return [
            FireRecord(
                j, datetime.fromisoformat(n), datetime.fromisoformat(a), FireOutcome(o), d, r
            )
            for j, n, a, o, d, r in rows
        ]

    # -- launches ----------------------------------------------------------------------------

    def launching(self, run_id: str, job: str, nominal: datetime, at: datetime) -> None:
        """Durably note a run about to start (before the journal knows it)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO launches (run_id, job, nominal, at, state) VALUES (?, ?, ?, ?, ?)",
                (run_id, job, _iso(nominal), _iso(at), LAUNCHING),
            )

    def set_launch(self, run_id: str, state: str, detail: str | None = None) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE launches SET state = ?, detail = ? WHERE run_id = ?",
                (state, detail, run_id),
            )

    def open_launches(self) -> list[Launch]:
        """Launches a previous service left launching or running, oldest first."""
        rows = self._rows(
            "SELECT run_id, job, state FROM launches WHERE state IN (?, ?) ORDER BY at",
            (LAUNCHING, RUNNING),
        )
        return [Launch(*row) for row in rows]

    # -- evaluations and alerts -------------------------------------------------------------

    def evaluated(self, run_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM evaluations WHERE run_id = ?", (run_id,)))

    def unevaluated(self) -> list[Launch]:
        """Runs the service launched that ended without their regressions computed."""
        rows = self._rows(
            "SELECT run_id, job, state FROM launches WHERE state = ? AND run_id NOT IN "
            "(SELECT run_id FROM evaluations) ORDER BY at",
            (ENDED,),
        )
        return [Launch(*row) for row in rows]

    def run_failed(self, job: str) -> bool:
        rows = self._rows("SELECT run_failed FROM job_state WHERE job = ?", (job,))
        return bool(rows and rows[0][0])

    def evaluate(
        self,
        run_id: str,
        job: str,
        alerts: Sequence[NewAlert],
        webhooks: Sequence[str],
        *,
        run_failed: bool,
        at: datetime,
    ) -> list[int]:
        """Record a run's evaluation and its alerts (one delivery per webhook each) in one
        transaction; the new alerts' ids. A run already evaluated records nothing again."""
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM evaluations WHERE run_id = ?", (run_id,)).fetchone():
                return []
            conn.execute("INSERT INTO evaluations VALUES (?, ?, ?)", (run_id, job, _iso(at)))
            conn.execute(
                "INSERT OR REPLACE INTO job_state VALUES (?, ?)", (job, 1 if run_failed else 0)
            )
            ids = [self._insert_alert(conn, run_id, job, alert, webhooks, at) for alert in alerts]
        return ids

    def _insert_alert(
        self,
        conn: sqlite3.Connection,
        run_id: str,
        job: str,
        alert: NewAlert,
        webhooks: Sequence[str],
        at: datetime,
    ) -> int:
        cursor = conn.execute(
            "INSERT INTO alerts (job, run_id, kind, created_at, summary, targets_json, body_json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (job, run_id, alert.kind.value, _iso(at), alert.summary,
             json.dumps(list(alert.targets)), json.dumps(alert.body)),
        )  # fmt: skip
        alert_id = int(cursor.lastrowid or 0)
        for hook in webhooks:
            conn.execute(
                "INSERT INTO deliveries (alert_id, webhook, state) VALUES (?, ?, ?)",
                (alert_id, hook, PENDING),
            )
        return alert_id

    def pending(self) -> list[PendingDelivery]:
        rows = self._rows(
            "SELECT d.alert_id, d.webhook, d.attempts, a.job, a.kind, a.body_json "
            "FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.state = ? "
            "ORDER BY d.alert_id",
            (PENDING,),
        )
        return [
            PendingDelivery(aid, hook, attempts, job, AlertKind(kind), json.loads(body))
            for aid, hook, attempts, job, kind, body in rows
        ]

    def delivery_attempt(
        self, alert_id: int, webhook: str, *, state: str, error: str | None, at: datetime
    ) -> None:
        delivered = _iso(at) if state == DELIVERED else None
        with self._tx() as conn:
            conn.execute(
                "UPDATE deliveries SET attempts = attempts + 1, state = ?, last_error = ?, "
                "delivered_at = ? WHERE alert_id = ? AND webhook = ?",
                (state, error, delivered, alert_id, webhook),
            )

    def alerts(self, job: str | None = None, limit: int = 50) -> list[AlertRecord]:
        where, args = ("WHERE job = ?", [job]) if job is not None else ("", [])
        rows = self._rows(
            "SELECT id, job, run_id, kind, created_at, summary, targets_json FROM alerts "
            f"{where} ORDER BY id DESC LIMIT ?",
            (*args, limit),
        )
        return [self._alert(row) for row in rows]

    def _alert(self, row: Sequence[Any]) -> AlertRecord:
        alert_id, job, run_id, kind, created, summary, targets = row
        deliveries = self._rows(
            "SELECT webhook, state, attempts, last_error, delivered_at FROM deliveries "
            "WHERE alert_id = ? ORDER BY webhook",
            (alert_id,),
        )
        return AlertRecord(
            alert_id=alert_id,
            job=job,
            run_id=run_id,
            kind=AlertKind(kind),
            created_at=datetime.fromisoformat(created),
            summary=summary,
            targets=tuple(json.loads(targets)),
            deliveries=tuple(
                Delivery(f"webhook ${hook}", state, attempts, error, _when(when))
                for hook, state, attempts, error, when in deliveries
            ),
        )

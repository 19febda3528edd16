"""GroupCommitter: the one task that commits a run's journal records while the run executes,
many records per SQLite transaction (group commit), with the write-ahead rule intact.

Writers hand it records (``add``: a transition; ``event``: a rollout event). It commits
whatever is pending in one transaction, in the order the records were handed over:

- A *durable* record (an intent to PUT or to restart, a rollout event) is committed with
  ``synchronous=FULL`` (fsynced), and promptly: the committer does not linger for it.
  ``add_durable`` / ``event_durable`` return only once the commit holding the record is on
  disk, so the runner sends the PUT (launches the next batch, halts) only afterwards.
- Other records (PUT_ACCEPTED, POLLED, FINAL, …) ride along: they wait at most ``linger_s``
  for company, or for the next durable record, and a group of them alone is committed without
  fsync (``synchronous=NORMAL``: the OS has them, a kill does not lose them once committed).
  ``flush`` waits until everything handed over is committed: before fleet deletes a run
  command of the run (cleanup, cancel), whose PUT_ACCEPTED must then survive a kill.

Because commits keep the hand-over order and a FULL commit fsyncs the whole WAL before it,
every record handed over before a durable one is durable when that one is: anything the run
acted on outside the process (a PUT, a restart, the next batch) is on disk first. A kill can
lose only the records handed over since the last commit — nothing acted on yet, so resume asks
Azure, as it does for an intent without its successor. ``close`` commits everything pending
(a run's end, its cancel, SIGTERM: the caller closes it shielded from cancellation).

A failed commit (disk full, I/O error) is the journal's ``JournalError``: it reaches every
caller waiting on that commit or a later one, every later ``add``, and ``close``; nothing of
the failed group is recorded (``RunWriter.commit_group`` rolls back), and the committer stops.

The commit itself runs in a worker thread (fsync must not block the event loop); ``run`` is a
task in the run's task group (structured concurrency). ``commits`` counts the transactions,
``records`` what they held (logged as ``journal.committed`` when the committer closes).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog
from anyio.abc import TaskStatus

from fleet.errors import JournalError
from fleet.journal.records import State
from fleet.journal.writer import EventRow, Row, RunWriter

log = structlog.get_logger("fleet.journal")

LINGER_S = 0.02  # how long a group without durable records waits for company (wall clock)
MAX_GROUP = 2000  # records per transaction at most: a bigger backlog is committed at once


@dataclass
class _Group:
    """Records handed over since the last commit began, and who waits on their commit."""

    transitions: list[Row] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    durable: bool = False
    done: anyio.Event = field(default_factory=anyio.Event)

    def __len__(self) -> int:
        return len(self.transitions) + len(self.events)


class GroupCommitter:
    def __init__(
        self, writer: RunWriter, *, linger_s: float = LINGER_S, max_group: int = MAX_GROUP
    ) -> None:
        self.writer = writer
        self.linger_s, self.max_group = linger_s, max_group
        self.commits = self.records = 0
        self._group = _Group()
        self._wake = anyio.Event()  # something is pending
        self._now = anyio.Event()  # commit without lingering (durable, full, closing)
        self._closing = False
        self._stopped = anyio.Event()
        self._error: JournalError | None = None
        self._inflight: _Group | None = None  # the group being committed

    # -- handing records over -----------------------------------------------------------------

    def add(self, target_id: str, state: State, detail: Mapping[str, Any]) -> None:
        """A transition that rides along with the next commit."""
        self._put(target_id, state, detail, durable=False)

    async def add_durable(self, target_id: str, state: State, detail: Mapping[str, Any]) -> None:
        """A transition, on disk (fsynced) when this returns."""
        await self._wait(self._put(target_id, state, detail, durable=True))

    def event(self, kind: str, batch: int, detail: Mapping[str, Any]) -> None:
        """A rollout event: durable, committed promptly; the caller does not wait for it."""
        self._check()
        group = self._group
        group.events.append((self.writer.stamp(), kind, batch, self.writer.encode(detail)))
        self._pending(group, durable=True)

    async def event_durable(self, kind: str, batch: int, detail: Mapping[str, Any]) -> None:
        """A rollout event, on disk when this returns (a gate's verdict, before it is acted on)."""
        self.event(kind, batch, detail)
        await self._wait(self._group)

    async def flush(self) -> None:
        """Return once everything handed over so far is committed (no fsync unless a durable
        record is among it: committed is what a kill cannot take away)."""
        group = self._group if len(self._group) else self._inflight
        if group is None:
            return
        if group is self._group:
            self._now.set()
        await self._wait(group)

    # -- the task ---------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Commit pending groups until closed (then commit what is left) or a commit fails.
        Start it with ``await task_group.start(committer.run)``."""
        task_status.started()
        try:
            while not (self._closing and not len(self._group)):
                await self._wake.wait()
                if not self._now.is_set():
                    with anyio.move_on_after(self.linger_s):
                        await self._now.wait()
                if len(self._group):
                    await self._commit(self._take())
        except JournalError:
            pass  # handed to every waiter; ``close`` and later ``add`` raise it
        finally:
            self._stopped.set()

    async def close(self) -> None:
        """Commit everything pending and stop ``run`` (shielded from cancellation: a canceled
        run still keeps what it handed over); raises the error of a failed commit."""
        self._closing = True
        self._wake.set()
        self._now.set()
        with anyio.CancelScope(shield=True):
            await self._stopped.wait()
            if self._error is None and len(self._group):  # ``run`` was canceled: commit here
                with contextlib.suppress(JournalError):
                    await self._commit(self._take())
        log.info(
            "journal.committed",
            run_id=self.writer.run_id,
            records=self.records,
            commits=self.commits,
            failed=self._error is not None,
        )
        if self._error is not None:
            raise self._error

    # -- internals --------------------------------------------------------------------------

    def _put(
        self, target_id: str, state: State, detail: Mapping[str, Any], *, durable: bool
    ) -> _Group:
        self._check()
        group = self._group
        row = (target_id, self.writer.stamp(), state.value, self.writer.encode(detail))
        group.transitions.append(row)
        self._pending(group, durable=durable)
        return group

    def _pending(self, group: _Group, *, durable: bool) -> None:
        group.durable = group.durable or durable
        self._wake.set()
        if durable or len(group) >= self.max_group:
            self._now.set()

    def _take(self) -> _Group:
        group, self._group = self._group, _Group()
        if not self._closing:
            self._wake, self._now = anyio.Event(), anyio.Event()
        return group

    async def _commit(self, group: _Group) -> None:
        commit = functools.partial(
            self.writer.commit_group, group.transitions, group.events, durable=group.durable
        )
        self._inflight = group
        try:
            with anyio.CancelScope(shield=True):  # a group begun is a group finished
                await anyio.to_thread.run_sync(commit)
            self.commits += 1
            self.records += len(group)
        except JournalError as exc:
            self._error = exc
            self._group.done.set()  # records handed over after the failed group
            raise
        finally:
            self._inflight = None
            group.done.set()

    async def _wait(self, group: _Group) -> None:
        await group.done.wait()
        if self._error is not None:
            raise self._error

    def _check(self) -> None:
        if self._error is not None:
            raise self._error
        if self._stopped.is_set():
            message = f"the journal committer of run {self.writer.run_id} is closed"
            raise JournalError(message)

"""Group commits (``fleet.journal.committer``) on a real SQLite journal: a durable record's
waiter returns only once the commit holding it is done; many records make few transactions
(counted with SQLite's own trace of COMMIT statements), in hand-over order; a clean stop and a
cancel commit everything pending; a failed commit (SQLite's real SQLITE_FULL) reaches every
waiter, every later hand-over and ``close`` as the journal's error, and records nothing of
the group."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import TaskGroup

from fleet.errors import JournalError
from fleet.journal import Journal, State
from fleet.journal.committer import GroupCommitter
from fleet.journal.recorder import recording
from fleet.journal.rollout import Kind
from fleet.journal.writer import RunWriter
from fleet.model import Batch, Status, TargetResult
from tests.journal import make_spec, make_targets
from tests.journal.test_errors import limit_pages

pytestmark = pytest.mark.anyio
TARGETS = make_targets(3)
A, B, C = (t.id for t in TARGETS)
LONG = 3600.0  # a linger no test waits out: only a durable record, a full group or close commit


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path) as opened:
        yield opened


@pytest.fixture
def writer(journal: Journal) -> Iterator[RunWriter]:
    with journal.begin_run("r1", make_spec(), TARGETS) as w:
        yield w


def states(journal: Journal) -> list[tuple[str, str]]:
    """(target, state) of every transition after SELECTED, in seq order."""
    found = journal.transitions("r1")
    return [(t.target_id, t.state.value) for t in found if t.state is not State.SELECTED]


@contextlib.asynccontextmanager
async def running(writer: RunWriter) -> AsyncIterator[tuple[GroupCommitter, TaskGroup]]:
    """A committer that never lingers out, its task running in the task group yielded."""
    committer = GroupCommitter(writer, linger_s=LONG)
    async with anyio.create_task_group() as tg:
        await tg.start(committer.run)
        yield committer, tg


def count_commits(writer: RunWriter) -> list[str]:
    """Every COMMIT the writer's connection executes from now on (SQLite's statement trace)."""
    seen: list[str] = []
    conn: sqlite3.Connection = writer._conn  # the connection the committer's thread uses
    conn.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)
    return seen


async def test_a_durable_waiter_returns_only_after_its_commit(
    writer: RunWriter, journal: Journal
) -> None:
    entered, release = threading.Event(), threading.Event()
    real = writer.commit_group

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(30)
        return real(*args, **kwargs)

    writer.commit_group = held  # type: ignore[method-assign]
    returned = anyio.Event()

    async def intent(committer: GroupCommitter) -> None:
        await committer.add_durable(A, State.INTENT_PUT, {"run_command": "c", "run_id_param": "x"})
        returned.set()

    async with running(writer) as (committer, tg):
        tg.start_soon(intent, committer)
        await anyio.to_thread.run_sync(entered.wait, 30)  # the commit has begun …
        await anyio.sleep(0.05)
        assert not returned.is_set()  # … and the waiter is still waiting for it
        assert states(journal) == []
        release.set()
        with anyio.fail_after(30):
            await returned.wait()
        assert states(journal) == [(A, "INTENT_PUT")]  # on disk when the waiter returned
        await committer.close()


async def test_many_records_make_few_transactions_in_hand_over_order(
    writer: RunWriter, journal: Journal
) -> None:
    commits = count_commits(writer)
    async with running(writer) as (committer, _tg):
        for i in range(300):
            committer.add(TARGETS[i % 3].id, State.POLLED, {"execution_state": "Running", "i": i})
        committer.event(Kind.BATCH_STARTED, 1, {"group": None, "order": "name", "targets": 3})
        await committer.add_durable(B, State.INTENT_PUT, {"run_command": "c", "run_id_param": "x"})
        await committer.close()
    assert len(commits) == committer.commits == 1  # 302 records, one transaction
    got = journal.transitions("r1")
    polled = [t.detail["i"] for t in got if t.state is State.POLLED]
    assert polled == list(range(300))
    assert states(journal)[-1] == (B, "INTENT_PUT")
    assert [t.seq for t in got] == list(range(1, len(got) + 1))
    assert journal.rollout("r1").started == {1: None}


async def test_flush_returns_once_everything_handed_over_is_committed(
    writer: RunWriter, journal: Journal
) -> None:
    async with running(writer) as (committer, _tg):
        await committer.flush()  # nothing pending: returns at once
        committer.add(A, State.PUT_ACCEPTED, {})
        committer.add(B, State.FINAL, {"status": "Succeeded"})
        assert states(journal) == []
        with anyio.fail_after(30):  # the linger is an hour: only flush commits them
            await committer.flush()
        assert states(journal) == [(A, "PUT_ACCEPTED"), (B, "FINAL")]
        await committer.close()


async def test_a_clean_stop_commits_everything_pending(writer: RunWriter, journal: Journal) -> None:
    result = TargetResult(TARGETS[2], Status.SUCCEEDED, exit_code=0)
    async with recording(writer) as recorder:
        recorder.committer.linger_s = LONG
        recorder.accepted(TARGETS[0])
        recorder.final(result)
        assert states(journal) == []  # riding along, not committed yet
    assert states(journal) == [(A, "PUT_ACCEPTED"), (C, "FINAL")]


async def test_a_canceled_run_commits_everything_pending(
    writer: RunWriter, journal: Journal
) -> None:
    handed = anyio.Event()

    async def run() -> None:
        async with recording(writer) as recorder:
            recorder.committer.linger_s = LONG
            recorder.accepted(TARGETS[1])
            recorder.batch_finished(Batch(1, None, tuple(TARGETS)), {"failures": 0})
            handed.set()
            await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await handed.wait()
        tg.cancel_scope.cancel()
    assert states(journal) == [(B, "PUT_ACCEPTED")]
    assert journal.rollout("r1").budget == {"failures": 0}


async def test_close_commits_what_a_canceled_committer_task_left(
    writer: RunWriter, journal: Journal
) -> None:
    async with running(writer) as (committer, tg):
        committer.add(C, State.PUT_ACCEPTED, {})
        tg.cancel_scope.cancel()  # the task ends without committing
    assert states(journal) == []
    await committer.close()
    assert states(journal) == [(C, "PUT_ACCEPTED")]
    with pytest.raises(JournalError, match="closed"):
        committer.add(C, State.FINAL, {})


async def test_a_failed_commit_reaches_every_waiter_as_the_journal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal.open(tmp_path)
    limit_pages(monkeypatch, 12)  # room for the run, not for a big group of records
    with journal, journal.begin_run("r1", make_spec(), TARGETS) as writer:
        errors: list[JournalError] = []

        async def intent(committer: GroupCommitter, target: str) -> None:
            detail = {"run_command": "c", "run_id_param": "x"}
            with pytest.raises(JournalError) as caught:
                await committer.add_durable(target, State.INTENT_PUT, detail)
            errors.append(caught.value)

        async with running(writer) as (committer, tg):
            for _ in range(2000):
                committer.add(A, State.POLLED, {"execution_state": "Running", "pad": "x" * 200})
            for target in (A, B, C):
                tg.start_soon(intent, committer, target)
        with pytest.raises(JournalError, match="is full") as closed:
            await committer.close()
        with pytest.raises(JournalError, match="is full"):
            committer.add(A, State.FINAL, {})
        assert len(errors) == 3 and all(e is closed.value for e in errors)
        assert states(journal) == []  # nothing of the failed group
        assert committer.commits == 0

"""Schema version 4: a run's batches and gate verdicts are journaled as they happen
(``rollout_events``). A version-3 journal is migrated in place when a writer opens it (its runs
and transitions kept); a reader of a version-3 file it may not migrate sees no events; the
events come back folded (a batch started twice counts once, verdicts in order, secrets
scrubbed) and stay append-only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from fleet.journal import Journal, Phase, PlannedTarget
from fleet.journal.recorder import recording
from fleet.journal.schema import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_V1,
    SCHEMA_VERSION,
    _run_script,
)
from fleet.journal.writer import RunWriter, record_new_run
from fleet.model import Batch, GateRecord, Target
from tests.journal import EPOCH, PROTECTED_VALUE, make_spec, make_targets


def _version_3_journal(path: Path) -> None:
    con = sqlite3.connect(path)
    with con:
        _run_script(con, SCHEMA_V1)
        _run_script(con, MIGRATIONS[2])
        _run_script(con, MIGRATIONS[3])
        con.execute("INSERT INTO schema_version (version) VALUES (3)")
        con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        con.execute("PRAGMA journal_mode = WAL")
    con.close()


async def _record_v3(writer: RunWriter, targets: list[Target]) -> None:
    async with recording(writer) as recorder:
        recorder.batch_started(Batch(1, "zone 1", tuple(targets)), "zone")
        await recorder.gate(GateRecord("health", 1, True, "ok", (targets[0].id,)))


async def _record_r1(
    writer: RunWriter, first: Batch, second: Batch, budget: dict[str, int]
) -> None:
    async with recording(writer) as recorder:
        recorder.batch_started(first, "name")
        recorder.batch_finished(first, budget)
        await recorder.gate(GateRecord("health", 1, True, "ok"))
        await recorder.gate(GateRecord("smoke", 1, False, f"token {PROTECTED_VALUE} refused"))
        recorder.batch_started(second, "name")
        recorder.batch_started(first, "name")  # a resumed run walks batch 1 again


def test_a_version_3_journal_is_migrated_in_place_and_keeps_its_runs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    path = state / "journal.sqlite3"
    _version_3_journal(path)
    targets = make_targets(2)
    con = sqlite3.connect(path)
    con.execute("PRAGMA foreign_keys = ON")
    planned = [PlannedTarget(t, 1) for t in targets]
    record_new_run(con, path, "v3-run", make_spec(), planned, who="me", at=EPOCH)
    con.close()

    with Journal.open(state, writable=False) as reader:  # a reader does not migrate
        assert reader.rollout("v3-run").empty
    with Journal.open(state) as journal:  # a writer does
        assert journal.target_states("v3-run")[targets[0].id].phase is Phase.NOT_STARTED
        writer = journal.resume_run("v3-run", make_spec())
        anyio.run(_record_v3, writer, targets)
        writer.close()
        rollout = journal.rollout("v3-run")
    assert rollout.started == {1: "zone 1"} and rollout.order == "zone"
    assert rollout.gates == (GateRecord("health", 1, True, "ok", (targets[0].id,)),)
    con = sqlite3.connect(path)
    assert con.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert SCHEMA_VERSION == 4
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), con:
        con.execute("UPDATE rollout_events SET batch = 2")
    with pytest.raises(sqlite3.IntegrityError), con:  # kinds are checked
        con.execute("INSERT INTO rollout_events VALUES ('v3-run', 9, 'now', 'OTHER', 1, '{}')")
    con.close()


def test_batches_and_verdicts_come_back_folded_and_scrubbed(tmp_path: Path) -> None:
    targets = make_targets(4)
    first, second = Batch(1, None, tuple(targets[:2])), Batch(2, None, tuple(targets[2:]))
    budget = {"max_errors": 1, "failures": 1, "platform_failures": 0}
    with Journal.open(tmp_path) as journal:
        planned = [PlannedTarget(t, 1 + i // 2) for i, t in enumerate(targets)]
        writer = journal.begin_run("r1", make_spec(), planned)
        anyio.run(_record_r1, writer, first, second, budget)
        writer.close()
        rollout = journal.rollout("r1")
        assert journal.rollout("no-such-run").empty
        record = rollout.record({1: [t.id for t in targets[:2]], 2: [t.id for t in targets[2:]]})
    assert rollout.started == {1: None, 2: None}
    assert [(g.gate, g.passed) for g in rollout.gates] == [("health", True), ("smoke", False)]
    assert PROTECTED_VALUE not in rollout.gates[1].reason
    assert [b.started for b in record.batches] == [True, True]
    assert (record.max_errors, record.script_failures, record.order) == (1, 1, "name")

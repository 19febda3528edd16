"""A journal written by the first schema version (before throttle buckets and reboots) is
migrated in place when a writer opens it: its runs and transitions are kept, the reboot
transitions are accepted from then on, and transitions stay append-only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fleet.journal import Journal, Phase, PlannedTarget, State
from fleet.journal.schema import APPLICATION_ID, SCHEMA_V1, SCHEMA_VERSION, _run_script
from fleet.journal.writer import record_new_run
from fleet.model import CallError
from tests.journal import EPOCH, make_spec, make_targets


def test_a_version_1_journal_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    path = state / "journal.sqlite3"
    con = sqlite3.connect(path)
    with con:
        _run_script(con, SCHEMA_V1)
        con.execute("INSERT INTO schema_version (version) VALUES (1)")
        con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        con.execute("PRAGMA journal_mode = WAL")
    con.close()
    # a run written with the version-1 tables, through the same SQL the writer uses
    targets = make_targets(2)
    con = sqlite3.connect(path)
    with con, pytest.raises(sqlite3.IntegrityError):  # version 1 refuses the new states
        con.execute("INSERT INTO transitions VALUES ('x', 1, 't', 'now', 'INTENT_REBOOT', '{}')")
    con.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA foreign_keys = ON")
    planned = [PlannedTarget(t) for t in targets]
    record_new_run(con, path, "old-run", make_spec(), planned, who="me", at=EPOCH)
    with con:
        con.execute(
            "INSERT INTO transitions VALUES ('old-run', 3, ?, ?, 'INTENT_PUT', "
            '\'{"run_command": "fleet-patch", "run_id_param": "old-run"}\')',
            (targets[0].id, "2026-01-01T00:00:01.000000Z"),
        )
    con.close()

    with Journal.open(state) as journal:
        states = journal.target_states("old-run")
        assert states[targets[0].id].phase is Phase.AMBIGUOUS
        assert states[targets[1].id].phase is Phase.NOT_STARTED
        writer = journal.resume_run("old-run", make_spec())
        writer.intent_reboot(targets[0].id, {"required": "exit code 100"})
        writer.reboot_failed(targets[0].id, CallError(0, "Lost", "reset"), arrived=None)
        writer.close()
        after = journal.target_states("old-run")[targets[0].id]
        assert after.phase is Phase.REBOOTING and after.reboot_arrived is None
        assert [t.state for t in journal.transitions("old-run", targets[0].id)] == [
            State.SELECTED, State.INTENT_PUT, State.INTENT_REBOOT, State.REBOOT_FAILED
        ]  # fmt: skip
    con = sqlite3.connect(path)
    assert con.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), con:
        con.execute("UPDATE transitions SET state = 'FINAL'")
    index = con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'transitions' "
        "AND name = 'transitions_by_target'"
    ).fetchall()
    con.close()
    assert index == [("transitions_by_target",)]

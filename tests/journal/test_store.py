"""Round trips through the journal: runs, targets, every transition kind, results, history."""

from __future__ import annotations

import dataclasses
import os
import socket
import sqlite3
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fleet.errors import JournalError, UnknownRun
from fleet.journal import CRASHED, Journal, Phase, PlannedTarget, State
from fleet.journal.spec_record import script_hash, spec_hash
from fleet.model import (
    CallError,
    Deleted,
    DeleteReason,
    FullOutput,
    Secret,
    Status,
    StreamCopy,
    TargetKind,
    TargetResult,
)
from tests.journal import EPOCH, FakeClock, make_spec, make_target, make_targets


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "state", now=FakeClock()) as j:
        yield j


def test_run_and_targets_round_trip(journal: Journal) -> None:
    uniform = make_target(
        1,
        kind=TargetKind.VMSS_UNIFORM,
        scale_set="ss-web",
        instance_id="7",
        fault_domain=2,
        power_state="running",
        tags=(("env", "prod"), ("team", "web")),
        zone=None,
        os=None,
    )
    planned = [PlannedTarget(make_target(0), batch=0), PlannedTarget(uniform, batch=3)]
    spec = make_spec()
    with journal.begin_run("r1", spec, planned, who="ada@laptop"):
        record = journal.run("r1")
    assert (record.run_id, record.job, record.source, record.who) == (
        "r1", "patch", "jobs/patch.yaml", "ada@laptop",
    )  # fmt: skip
    assert record.spec_hash == spec_hash(spec) and record.script_hash == script_hash(spec)
    assert record.spec["script"]["protected_parameters"] == [{"name": "TOKEN", "value": "***"}]
    assert record.started_at > EPOCH and record.target_count == 2 and record.resumes == 0
    rows = journal.targets("r1")
    assert [(r.target, r.batch, r.order) for r in rows] == [
        (planned[0].target, 0, 0),
        (uniform, 3, 1),
    ]


def test_every_transition_kind_round_trips(journal: Journal) -> None:
    t = make_targets(4)
    with journal.begin_run("r1", make_spec(), t) as w:
        seqs = [
            w.intent_put(t[0].id, "fleet-patch", "r1"),
            w.put_accepted(t[0].id, {"provisioning_state": "Creating"}),
            w.polled(t[0].id, "Running", polls=3),
            w.intent_put(t[1].id, "fleet-patch", "r1"),
            w.put_failed(t[1].id, CallError(409, "Conflict", "another run command")),
            w.intent_put(t[2].id, "fleet-patch", "r1"),
            w.put_failed(t[2].id, CallError(0, "ConnectionReset", "reset by peer")),
            w.put_failed(t[3].id, "refused locally", arrived=False),
        ]
    assert seqs == list(range(5, 13))  # 1..4 are the SELECTED transitions
    got = [(x.seq, x.target_id, x.state, dict(x.detail)) for x in journal.transitions("r1")]
    assert got[:4] == [(i + 1, t[i].id, State.SELECTED, {}) for i in range(4)]
    assert got[4:] == [
        (5, t[0].id, State.INTENT_PUT, {"run_command": "fleet-patch", "run_id_param": "r1"}),
        (6, t[0].id, State.PUT_ACCEPTED, {"provisioning_state": "Creating"}),
        (7, t[0].id, State.POLLED, {"execution_state": "Running", "polls": 3}),
        (8, t[1].id, State.INTENT_PUT, {"run_command": "fleet-patch", "run_id_param": "r1"}),
        (9, t[1].id, State.PUT_FAILED,
         {"status": 409, "code": "Conflict", "message": "another run command", "arrived": False}),
        (10, t[2].id, State.INTENT_PUT, {"run_command": "fleet-patch", "run_id_param": "r1"}),
        (11, t[2].id, State.PUT_FAILED,
         {"status": 0, "code": "ConnectionReset", "message": "reset by peer", "arrived": None}),
        (12, t[3].id, State.PUT_FAILED, {"message": "refused locally", "arrived": False}),
    ]  # fmt: skip
    assert [x.seq for x in journal.transitions("r1", t[0].id)] == [1, 5, 6, 7]


def test_final_results_round_trip(journal: Journal) -> None:
    t = make_targets(3)
    kept = StreamCopy("https://a.blob.core.windows.net/o/r1/vm-0/stdout", 9, 5, "ab12", "/x/stdout")
    full = FullOutput(kept, StreamCopy("https://a.blob.core.windows.net/o/r1/vm-0/stderr", None),
                      False, "no output blob", "k1")  # fmt: skip
    ok = TargetResult(
        t[0], Status.SUCCEEDED, None, 0, "done\n", "", "Succeeded",
        EPOCH, EPOCH + timedelta(seconds=42, microseconds=5), attempts=1, polls=4,
        deleted=(
            Deleted("fleet-old", DeleteReason.RECLAIMED),
            Deleted("fleet-job", DeleteReason.CLEANUP, error="Conflict: busy"),
        ),
        full_output=full,
    )  # fmt: skip
    failed = TargetResult(t[1], Status.FAILED, "exit 2", 2, "out", "err", "Failed", attempts=2)
    skipped = TargetResult(t[2], Status.SKIPPED, "VM is deallocated")
    with journal.begin_run("r1", make_spec(), t) as w:
        w.final(ok)
        w.finals([failed, skipped])
    assert journal.final_results("r1") == {t[0].id: ok, t[1].id: failed, t[2].id: skipped}


def test_latest_states_classify_every_target(journal: Journal) -> None:
    t = make_targets(5)
    with journal.begin_run("r1", make_spec(), t) as w:
        w.intent_puts([(t[1].id, "fleet-patch", "r1"), (t[2].id, "fleet-patch", "r1")])
        w.put_accepted(t[2].id)
        w.intent_put(t[3].id, "fleet-patch", "r1")
        w.put_accepted(t[3].id)
        w.final(TargetResult(t[3], Status.SUCCEEDED, exit_code=0))
        w.final(TargetResult(t[4], Status.SKIPPED, "deallocated"))
    states = journal.target_states("r1")
    assert list(states) == [x.id for x in t]  # plan order
    assert [s.phase for s in states.values()] == [
        Phase.NOT_STARTED, Phase.AMBIGUOUS, Phase.RUNNING, Phase.DONE, Phase.DONE,
    ]  # fmt: skip
    assert states[t[1].id].run_command == "fleet-patch"


def test_end_records_summary_and_report(journal: Journal) -> None:
    report = {"run_id": "r1", "targets": [{"id": "x", "output": "hello"}]}
    with journal.begin_run("r1", make_spec(), make_targets(1)) as w:
        assert journal.run("r1").ended == "running"
        assert journal.report_json("r1") is None
        w.end("completed", {"Succeeded": 1, "total": 1}, report)
    record = journal.run("r1")
    assert record.ended == "completed" and record.summary == {"Succeeded": 1, "total": 1}
    assert record.has_report and record.ended_at is not None and record.duration_s > 0
    assert journal.report_json("r1") == report


def test_runs_lists_newest_first_with_a_limit(journal: Journal) -> None:
    for run_id in ("a", "b", "c"):
        with journal.begin_run(run_id, make_spec(), make_targets(1)) as w:
            w.end("completed", {})
    assert [r.run_id for r in journal.runs()] == ["c", "b", "a"]
    assert [r.run_id for r in journal.runs(limit=2)] == ["c", "b"]
    assert len(journal.runs(limit=None)) == 3


def test_leaving_a_writer_without_end_marks_the_run_crashed(journal: Journal) -> None:
    with pytest.raises(RuntimeError), journal.begin_run("r1", make_spec(), make_targets(1)):
        raise RuntimeError("runner bug")
    assert journal.run("r1").ended == CRASHED


def test_a_running_run_whose_writer_died_reads_as_crashed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Journal.open(state) as j, j.begin_run("r1", make_spec(), make_targets(1)):
        pass
    # Simulate a SIGKILLed writer: its row and "running" stay behind, its pid is gone.
    con = sqlite3.connect(state / "journal.sqlite3")
    with con:
        con.execute("UPDATE runs SET ended = 'running'")
        con.execute(
            "INSERT INTO writers VALUES ('r1', ?, ?, 'x')", (dead_pid(), socket.gethostname())
        )
    con.close()
    with Journal.open(state, writable=False) as j:
        assert j.run("r1").ended == CRASHED and j.runs()[0].ended == CRASHED


def dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_resume_continues_the_sequence_and_counts_resumes(journal: Journal) -> None:
    t = make_targets(2)
    spec = make_spec()
    with journal.begin_run("r1", spec, t) as w:
        w.intent_put(t[0].id, "fleet-patch", "r1")
    rotated = dataclasses.replace(
        spec, script=dataclasses.replace(spec.script, run_as_password=Secret("new-password"))
    )
    with journal.resume_run("r1", rotated) as w:
        assert journal.run("r1").ended == "running"
        assert w.put_accepted(t[0].id) == 4
        w.end("completed", {})
    assert journal.run("r1").resumes == 1


def test_resume_refuses_a_different_spec(journal: Journal) -> None:
    with journal.begin_run("r1", make_spec(), make_targets(1)):
        pass
    with pytest.raises(JournalError, match="spec differs"):
        journal.resume_run("r1", make_spec(script="rm -rf /tmp/x"))


def test_unknown_runs_and_duplicate_runs_are_clear_errors(journal: Journal) -> None:
    with pytest.raises(UnknownRun, match="no run nope"):
        journal.run("nope")
    with pytest.raises(UnknownRun):
        journal.resume_run("nope", make_spec())
    with journal.begin_run("r1", make_spec(), make_targets(1)):
        pass
    with pytest.raises(JournalError, match="already exists"):
        journal.begin_run("r1", make_spec(), make_targets(1))
    assert UnknownRun.exit_code == 2


def test_a_transition_for_an_unplanned_target_is_refused(journal: Journal) -> None:
    with journal.begin_run("r1", make_spec(), make_targets(1)) as w:
        with pytest.raises(JournalError, match="FOREIGN KEY"):
            w.put_accepted("/subscriptions/x/not-planned")
        assert w.put_accepted(make_target(0).id) == 2  # the failed write consumed no seq


def test_transitions_are_append_only(journal: Journal) -> None:
    with journal.begin_run("r1", make_spec(), make_targets(1)):
        pass
    con = sqlite3.connect(journal.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("UPDATE transitions SET state = 'FINAL'")
    con.close()


def test_wal_mode_and_private_files(journal: Journal) -> None:
    with journal.begin_run("r1", make_spec(), make_targets(1)):
        con = sqlite3.connect(journal.path)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        con.close()
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(journal.state_dir.stat().st_mode) == 0o700


def test_read_only_open_of_a_missing_journal_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no fleet journal"):
        Journal.open(tmp_path / "none", writable=False)
    assert not (tmp_path / "none").exists()


def test_closed_writer_refuses_writes(journal: Journal) -> None:
    w = journal.begin_run("r1", make_spec(), make_targets(1))
    w.close()
    w.close()  # idempotent
    with pytest.raises(JournalError, match="closed"):
        w.put_accepted(make_target(0).id)

"""Secret values never reach the journal: the database, WAL and shared-memory files are grepped
while the run is being written and after it closed."""

from __future__ import annotations

from pathlib import Path

from fleet.journal import Journal
from fleet.journal.codec import final_detail
from fleet.model import CallError, Status, TargetResult
from tests.journal import PASSWORD, PROTECTED_VALUE, SAS, make_spec, make_targets

SECRETS = (PROTECTED_VALUE, PASSWORD, SAS)


def journal_bytes(state: Path) -> dict[str, bytes]:
    files = [p for p in state.iterdir() if p.name.startswith("journal.sqlite3")]
    return {p.name: p.read_bytes() for p in files}


def assert_no_secrets(state: Path) -> None:
    found = journal_bytes(state)
    assert "journal.sqlite3" in found
    for name, data in found.items():
        for secret in SECRETS:
            assert secret.encode() not in data, f"{name} holds a secret"
            assert secret.encode("utf-16-le") not in data, f"{name} holds a secret (utf-16)"


def test_secrets_never_reach_the_database_or_its_wal(tmp_path: Path) -> None:
    state = tmp_path / "state"
    t = make_targets(2)
    echo = f"token={PROTECTED_VALUE} password={PASSWORD}"  # a script that echoes its secrets
    with Journal.open(state) as journal, journal.begin_run("r1", make_spec(), t) as w:
        w.intent_put(t[0].id, "fleet-patch", "r1")
        w.put_failed(t[1].id, CallError(400, "BadRequest", f"bad value {PASSWORD}"))
        w.put_accepted(t[0].id, {"note": echo})
        w.polled(t[0].id, "Running", output=echo)
        w.final(TargetResult(t[0], Status.FAILED, echo, 1, echo, echo, "Failed"))
        assert any(n.endswith("-wal") for n in journal_bytes(state))
        assert_no_secrets(state)  # the WAL holds the recent writes now
        w.end("completed", {"note": echo}, {"targets": [{"output": echo}]})
        assert_no_secrets(state)
        stored = journal.final_results("r1")[t[0].id]
    assert stored.output == "token=*** password=***"
    assert_no_secrets(state)


def test_a_reboot_journals_no_secret(tmp_path: Path) -> None:
    """The restart's intent carries the script's result (what a resume reports): scrubbed like
    a final result, and so is a refusal's message."""
    state = tmp_path / "state"
    t = make_targets(1)
    echo = f"token={PROTECTED_VALUE} password={PASSWORD}"
    script = TargetResult(t[0], Status.SUCCEEDED, echo, 100, echo, echo, "Succeeded")
    with Journal.open(state) as journal, journal.begin_run("r1", make_spec(), t) as w:
        w.intent_reboot(t[0].id, {"script": final_detail(script), "required": "exit code 100"})
        w.reboot_failed(t[0].id, CallError(409, "Conflict", f"busy {SAS}"), arrived=None)
        assert_no_secrets(state)
        intent = journal.target_states("r1")[t[0].id].reboot
    assert intent is not None and intent.detail["script"]["output"] == "token=*** password=***"
    assert_no_secrets(state)

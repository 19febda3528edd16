"""``fleet runs --job NAME`` and ``fleet diff RUN_A RUN_B`` on a journal written by the journal
itself; ``fleet serve``'s refusals before it starts (exit code 2, nothing runs)."""

from __future__ import annotations

import dataclasses
import json
import socket
from pathlib import Path

from typer.testing import CliRunner

from fleet.cli.main import app
from fleet.journal import Journal
from fleet.model import Expectations, Status, TargetResult, ValueCheck
from tests.journal import FakeClock, make_spec, make_target

T = [make_target(i) for i in range(4)]
DISK = Expectations(values=(ValueCheck("disk", r"used=(\d+)%", max=90),))


def journal_with_runs(state: Path) -> None:
    spec = dataclasses.replace(make_spec("health"), expect=DISK)
    runs = {
        "r1": [(T[0], "used=10%"), (T[1], "used=95%"), (T[2], "used=10%")],
        "r2": [(T[0], "used=97%"), (T[1], "used=20%"), (T[3], "used=20%")],
    }
    with Journal.open(state, now=FakeClock()) as journal:
        for run_id, outcomes in runs.items():
            with journal.begin_run(run_id, spec, [t for t, _ in outcomes]) as writer:
                for target, output in outcomes:
                    result = TargetResult(target, Status.SUCCEEDED, exit_code=0, output=output)
                    writer.final(result)
                writer.end("completed", {"total": len(outcomes)})


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_runs_of_a_job_with_verdicts_and_changes(tmp_path: Path) -> None:
    journal_with_runs(tmp_path)
    code, out = invoke("runs", "--job", "health", "-o", "json", "--state-dir", str(tmp_path))
    assert code == 0, out
    rows = json.loads(out)
    assert [r["run_id"] for r in rows] == ["r2", "r1"]  # newest first
    assert rows[0]["verdicts"] == {"pass": 2, "fail": 1, "skip": 0}
    assert (rows[0]["previous_run_id"], rows[0]["newly_failing"], rows[0]["recovered"]) == (
        "r1",
        1,
        1,
    )
    assert rows[1]["previous_run_id"] is None and rows[1]["newly_failing"] == 0
    code, out = invoke("runs", "--job", "health", "--state-dir", str(tmp_path))
    assert code == 0 and "2 runs of health" in out
    code, out = invoke("runs", "--job", "nope", "-o", "json", "--state-dir", str(tmp_path))
    assert (code, json.loads(out)) == (0, [])


def test_diff_as_json_tsv_and_table(tmp_path: Path) -> None:
    journal_with_runs(tmp_path)
    code, out = invoke("diff", "r1", "r2", "-o", "json", "--state-dir", str(tmp_path))
    assert code == 0, out
    doc = json.loads(out)
    assert doc["counts"] == {
        "newly-failing": 1, "recovered": 1, "still-failing": 0, "new": 1, "gone": 1,
        "unchanged": 0,
    }  # fmt: skip
    changes = [(t["change"], t["name"]) for t in doc["targets"]]
    assert changes == [
        ("newly-failing", T[0].name), ("recovered", T[1].name), ("new", T[3].name),
        ("gone", T[2].name),
    ]  # fmt: skip
    first = doc["targets"][0]
    assert first["before"]["verdict"] == "pass" and first["after"]["reason"] == "disk = 97 > max 90"
    assert first["after"]["values"] == {"disk": 97.0}
    code, out = invoke("diff", "r1", "r2", "-o", "tsv", "--state-dir", str(tmp_path))
    lines = out.splitlines()
    assert lines[0] == "change\ttarget\tbefore\tafter\treason\tid"
    assert lines[1].split("\t")[:5] == [
        "newly-failing",
        T[0].name,
        "pass",
        "fail",
        "disk = 97 > max 90",
    ]
    code, out = invoke("diff", "r1", "r2", "--state-dir", str(tmp_path))
    assert code == 0 and "1 newly-failing" in out


def test_diff_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    code, out = invoke("diff", "r1", "r2", "--state-dir", str(tmp_path))
    assert code == 2 and "no fleet journal" in out
    journal_with_runs(tmp_path)
    code, out = invoke("diff", "r1", "nope", "--state-dir", str(tmp_path))
    assert code == 2 and "no run nope" in out
    code, out = invoke("diff", "r1", "r2", "-o", "xml", "--state-dir", str(tmp_path))
    assert code == 2 and "--output must be table, json or tsv" in out


def test_serve_refuses_bad_input_before_starting(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "a.yaml").write_text("name: a\ntargets: {all: true}\nscript: {inline: 'true'}\n")
    base = ["serve", "--jobs", str(jobs), "--state-dir", str(tmp_path / "state"), "--sim"]
    code, out = invoke(*base)
    assert code == 2 and "no schedule: section" in out
    (jobs / "a.yaml").write_text(
        "name: a\ntargets: {all: true}\nscript: {inline: 'true'}\nschedule: {every: 1m}\n"
    )
    code, out = invoke(*base, "--listen", "0.0.0.0:8080")
    assert code == 2 and "not a loopback address" in out and "FLEET_SERVE_TOKEN" in out
    code, out = invoke(*base, "--listen", "nowhere")
    assert code == 2 and "give HOST:PORT" in out
    code, out = invoke(*base, "--drain", "soon")
    assert code == 2 and "--drain: 'soon' is not a duration" in out
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, out = invoke(*base, "--listen", f"127.0.0.1:{port}")
    assert code == 2 and "cannot listen there" in out
    assert not (tmp_path / "state").exists()  # nothing started

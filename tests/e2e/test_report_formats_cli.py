"""``--report-format json|junit|csv|html`` on ``fleet run`` and ``fleet show``, end to end on the
simulated fleet: the files are what the formats promise (JUnit valid against fleet's JUnit
schema, CSV rows that read back, one standalone HTML page), ``fleet show`` gives the same report
as the run, and a bad format is refused before anything is sent to Azure."""

from __future__ import annotations

import json
from pathlib import Path

from fleet.report.csv_report import read_csv
from tests.e2e.test_history_cli import SMALL, fleet
from tests.report.junit_schema import junit_schema


def test_run_and_show_write_every_format(tmp_path: Path) -> None:
    state, xml = tmp_path / "state", tmp_path / "run.xml"
    job = ["-n", "app-0*", "--script", "uptime", "--job-name", "uptime"]
    run = fleet(state, "run", *SMALL, "--time-scale", "50", *job, "--report", str(xml),
                "--report-format", "junit")  # fmt: skip
    assert run.returncode == 1, run.stderr  # app-03: disk full
    assert f"junit report written to {xml}" in run.stderr
    junit_schema().validate(xml)
    (record,) = json.loads(fleet(state, "runs", "-o", "json").stdout)
    run_id = record["run_id"]
    assert f'<property name="fleet.run_id" value="{run_id}" />' in xml.read_text()

    shown = fleet(state, "show", run_id, "--report", str(tmp_path / "show.xml"),
                  "--report-format", "JUnit")  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert (tmp_path / "show.xml").read_text() == xml.read_text()  # same run, same file

    csv_out = fleet(state, "show", run_id, "--report-format", "csv")
    rows = read_csv(csv_out.stdout)
    assert len(rows) == 9 and {r["run_id"] for r in rows} == {run_id}
    failed = [r["name"] for r in rows if r["status"] == "Failed"]
    assert failed == ["app-03"]
    assert {r["os"] for r in rows} <= {"linux", "windows"}  # every target's OS, from the JSON

    html = tmp_path / "show.html"
    assert fleet(state, "show", run_id, "-r", str(html), "--report-format", "html").returncode == 0
    page = html.read_text()
    assert page.startswith("<!doctype html>") and "app-03" in page and "<script" not in page


def test_bad_report_format_is_refused_before_anything_runs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    bad = fleet(state, "run", *SMALL, "--script", "uptime", "--report", str(tmp_path / "r"),
                "--report-format", "pdf")  # fmt: skip
    assert bad.returncode == 2
    assert "--report-format must be one of json, junit, csv, html, got 'pdf'" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "r").exists()
    lonely = fleet(state, "run", *SMALL, "--script", "uptime", "--report-format", "html")
    assert lonely.returncode == 2 and "add --report PATH" in lonely.stderr
    assert json.loads(fleet(state, "runs", "-o", "json").stdout) == []  # nothing ran

"""Reboots in the report: per target (required, requested, done, seconds until ready), the run's
``reboots`` section and the summary's line, and the same records back from the journal (what
``fleet show`` prints)."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from fleet.api.history import report_from_journal
from fleet.api.lifecycle import end
from fleet.journal import Journal
from fleet.journal.codec import final_detail, view_detail
from fleet.model import MachineView, RebootOutcome, RebootRecord, Status, TargetResult
from fleet.report.csv_report import csv_rows, csv_text, read_csv
from fleet.report.html_report import html_report
from fleet.report.json_report import report_to_dict
from fleet.report.reboots import reboots_line
from fleet.report.render import render_summary
from tests.journal import make_spec
from tests.report.test_groups import make_target
from tests.report.test_json_report import make_report

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def rebooted(name: str, seconds: float) -> TargetResult:
    record = RebootRecord(
        "exit code 100", RebootOutcome.DONE, requested=True, requested_at=T0,
        ready_at=T0 + timedelta(seconds=seconds), seconds_to_ready=seconds, restarts=1, reads=3,
    )  # fmt: skip
    return TargetResult(make_target(name), Status.SUCCEEDED, exit_code=100, reboot=record)


def results() -> list[TargetResult]:
    lost = RebootRecord(
        "exit code 100", RebootOutcome.TIMED_OUT, requested=True, requested_at=T0,
        detail="PowerState/running, provisioning succeeded, agent Not Ready", restarts=1, reads=9,
    )  # fmt: skip
    stopped = RebootRecord("exit code 100", RebootOutcome.NOT_REQUESTED, requested=False)
    return [
        rebooted("web-001", 70.0),
        rebooted("web-002", 80.0),
        rebooted("web-003", 240.5),
        TargetResult(make_target("web-004"), Status.REBOOT_TIMED_OUT, exit_code=100, reboot=lost),
        TargetResult(make_target("web-005"), Status.SUCCEEDED, exit_code=100, reboot=stopped),
        TargetResult(make_target("web-006"), Status.SUCCEEDED, exit_code=0),
    ]


def test_each_target_and_the_run_say_what_reboots_did() -> None:
    report = dataclasses.replace(make_report(results()), reboot="if-required")
    doc = report_to_dict(report)
    by_name = {t["name"]: t["reboot"] for t in doc["targets"]}
    assert by_name["web-006"] is None
    assert by_name["web-001"] == {
        "required": "exit code 100", "outcome": "done", "requested": True, "done": True,
        "requested_at": "2026-03-01T12:00:00.000Z", "ready_at": "2026-03-01T12:01:10.000Z",
        "seconds_to_ready": 70.0, "detail": None, "restarts": 1, "reads": 3,
    }  # fmt: skip
    assert by_name["web-004"]["outcome"] == "timed-out" and not by_name["web-004"]["done"]
    assert by_name["web-005"]["requested"] is False
    assert doc["reboots"] == {
        "policy": "if-required", "required": 5, "requested": 4, "done": 3, "timed_out": 1,
        "not_requested": 1, "refused": 0, "unknown": 0, "abandoned": 0,
        "seconds_to_ready": {"median": 80.0, "max": 240.5},
    }  # fmt: skip
    assert doc["summary"]["RebootTimedOut"] == 1


def test_the_csv_report_says_what_became_of_each_reboot() -> None:
    doc = report_to_dict(dataclasses.replace(make_report(results()), reboot="if-required"))
    rows = {r["name"]: r for r in read_csv(csv_text(doc))}
    assert rows == {r["name"]: r for r in csv_rows(doc)}  # round trip
    assert (rows["web-003"]["reboot"], rows["web-003"]["reboot_seconds"]) == ("done", "240.5")
    assert (rows["web-004"]["reboot"], rows["web-004"]["reboot_seconds"]) == ("timed-out", None)
    assert rows["web-005"]["reboot"] == "not-requested"
    assert (rows["web-006"]["reboot"], rows["web-006"]["reboot_seconds"]) == (None, None)


def test_the_html_report_says_what_reboots_did() -> None:
    doc = report_to_dict(dataclasses.replace(make_report(results()), reboot="if-required"))
    page = html_report(doc)
    assert (
        "fleet rebooted 3 VMs (back after 80 s median, 240.5 s at most); 1 not back in time "
        "(RebootTimedOut); 1 still need a reboot fleet did not request (web-005)." in page
    )
    quiet = report_to_dict(make_report([results()[-1]]))
    assert "fleet rebooted" not in html_report(quiet)


def test_the_summary_says_how_many_vms_were_rebooted() -> None:
    console = Console(record=True, width=200, file=io.StringIO(), color_system=None)
    render_summary(console, make_report(results()))
    text = console.export_text()
    assert "RebootTimedOut" in text
    assert (
        "fleet rebooted 3 VMs (back after 80 s median, 240.5 s at most); 1 not back in time "
        "(RebootTimedOut); 1 still need a reboot fleet did not request (web-005)." in text
    )
    left = [
        dataclasses.replace(r, target=make_target(f"app-{i}"))
        for i, r in enumerate([results()[4]] * 7)
    ]
    assert reboots_line(make_report(left)) == (
        "fleet rebooted 0 VMs; 7 still need a reboot fleet did not request "
        "(app-0, app-1, app-2, app-3, app-4 and 2 more)."
    )
    quiet = Console(record=True, width=200, file=io.StringIO(), color_system=None)
    render_summary(quiet, make_report([results()[-1]]))
    assert "rebooted" not in quiet.export_text()


def test_fleet_show_gives_the_reboots_back_from_the_journal(tmp_path: Path) -> None:
    report = dataclasses.replace(make_report(results()), reboot="if-required")
    journal = Journal.open(tmp_path)
    targets = [r.target for r in report.results]
    writer = journal.begin_run(report.run_id, make_spec("health"), targets)
    for result in report.results:
        writer.final(result)
    end(writer, report)
    writer.close()
    shown = report_from_journal(journal, report.run_id)
    assert {r.target.name: r.reboot for r in shown.results} == {
        r.target.name: r.reboot for r in report.results
    }
    assert report_to_dict(shown)["reboots"] == report_to_dict(report)["reboots"]


def test_fleet_show_of_a_run_in_flight_says_which_targets_are_rebooting(tmp_path: Path) -> None:
    """A target whose script finished and whose restart is journaled, with no final result
    yet: ``fleet show`` reports it Running (rebooting) with its script's exit code and output
    — launched, not 'not launched yet' — while the run is live and after it was interrupted."""
    journal = Journal.open(tmp_path)
    script = TargetResult(make_target("web-1"), Status.SUCCEEDED, exit_code=100, output="ok\n")
    writer = journal.begin_run("r-live", make_spec("patch"), [script.target])
    writer.intent_put(script.target.id, "fleet-patch", "r-live")
    writer.put_accepted(script.target.id)
    baseline = view_detail(MachineView("running", "succeeded", T0, "Ready"))
    detail = {"script": final_detail(script), "required": "exit code 100", "baseline": baseline}
    writer.intent_reboot(script.target.id, detail)
    (live,) = report_from_journal(journal, "r-live").results
    assert (live.status, live.exit_code, live.output) == (Status.RUNNING, 100, "ok\n")
    assert live.reason == "its script finished; its VM is rebooting"
    writer.close()  # the process is gone: the run reads as interrupted
    (after,) = report_from_journal(journal, "r-live").results
    assert after.status is Status.RUNNING and "was rebooting when the run was" in after.reason

"""The CSV report: stable columns, one row per target, round-trips (write → read → equal) through
quotes, newlines, non-ASCII and spreadsheet formulas, which are defused."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.report.csv_report import COLUMNS, csv_rows, csv_text, read_csv
from fleet.report.formats import ReportFormat, write_document
from tests.report.documents import DISK_EXPECT, HOSTILE_OUTPUT, sample_document


def test_columns_are_stable() -> None:
    """The contract: scripts and spreadsheets address these by name and position."""
    assert COLUMNS == (
        "run_id", "job", "target_id", "name", "kind", "subscription", "resource_group",
        "location", "zone", "os", "status", "reason", "exit_code", "execution_state",
        "started_at", "ended_at", "attempts", "polls", "group", "output", "error",
        "verdict", "verdict_reason", "values", "reboot", "reboot_seconds",
    )  # fmt: skip
    text = csv_text(sample_document())
    assert text.splitlines()[0] == ",".join(COLUMNS)


def test_one_row_per_target_and_round_trip(tmp_path: Path) -> None:
    doc = sample_document()
    path = tmp_path / "report.csv"
    write_document(path, doc, ReportFormat.CSV)
    rows = read_csv(path.read_bytes().decode("utf-8"))
    assert rows == csv_rows(doc)
    assert len(rows) == len(doc["targets"])
    by_id = {t["id"]: t for t in doc["targets"]}
    for row in rows:
        original = by_id[row["target_id"]]
        assert row["output"] == (original["output"] or None)
        assert row["status"] == original["status"] and row["exit_code"] == original["exit_code"]
    evil = next(r for r in rows if r["name"] == "evil-1")
    assert evil["output"] == HOSTILE_OUTPUT and evil["error"] is not None
    assert evil["group"] in {g["key"] for g in doc["groups"]}
    assert (evil["verdict"], evil["verdict_reason"]) == ("fail", "exit code 3")


def test_verdicts_and_values_from_the_jobs_expectations() -> None:
    rows = {r["name"]: r for r in csv_rows(sample_document(expect=DISK_EXPECT))}
    assert rows["web-905"]["verdict"] == "fail"
    assert rows["web-905"]["values"] == '{"disk_used_pct": null}'  # "disk /: 30G of 30G used"
    assert rows["web-905"]["verdict_reason"] == (
        r"exit code 1; disk_used_pct: not found in the output (/used \((\d+)%\)/)"
    )
    assert (rows["web-010"]["verdict"], rows["web-010"]["verdict_reason"]) == ("pass", None)
    assert rows["web-005"]["values"] == '{"disk_used_pct": 75.0}'  # Succeeded, yet:
    assert (rows["web-005"]["verdict"], rows["web-005"]["verdict_reason"]) == (
        "fail", "disk_used_pct = 75 > max 50",
    )  # fmt: skip
    assert rows["off-1"]["verdict"] == "skip"


def test_formulas_are_defused_for_spreadsheets() -> None:
    """OWASP CSV injection: a text cell starting with = + - @ is written with a leading '."""
    raw = list(csv.DictReader(io.StringIO(csv_text(sample_document()), newline="")))
    evil = next(r for r in raw if r["name"] == "evil-1")
    assert evil["error"].startswith("'-1 ")  # stderr began with "-1"
    assert evil["exit_code"] == "3"
    timed_out = next(r for r in raw if r["name"] == "wedged-1")
    assert timed_out["exit_code"] == "-1"  # numbers are numbers, never prefixed
    for row in raw:
        for column in ("name", "reason", "output", "error"):
            assert not row[column].startswith(("=", "+", "-", "@")), (row["name"], column)


TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    output=TEXT,
    error=TEXT,
    reason=TEXT,
    name=st.from_regex(r"[A-Za-z0-9=+@'-][\w.-]{0,20}", fullmatch=True),
)
def test_round_trip_any_text(output: str, error: str, reason: str, name: str) -> None:
    doc = sample_document(0)
    target = doc["targets"][0]
    target.update(output=output, error=error, reason=reason or None, name=name)
    assert read_csv(csv_text(doc)) == csv_rows(doc)

"""Output that survives pipes and narrow terminals (issue #10): ``-o table|json|tsv`` on every
command that prints results, full values when stdout is not a terminal (``fleet targets ... |
grep deallocated`` finds them), tables that leave columns out at 80 columns instead of cutting
identifiers or stacking one word per line, and ``--format`` kept as a deprecated alias."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fleet.cli.history_cmd import RUN_COLUMNS
from fleet.cli.output import fitted_table
from fleet.cli.rollout_view import _names
from fleet.cli.views import TARGET_COLUMNS
from tests.cli.clikit import fleet
from tests.report.test_groups import make_target

DEMO = ["--sim", "--time-scale", "100"]
GUID = "11111111-1111-1111-1111-111111111111"


def test_piped_targets_keep_every_value_whole_so_grep_finds_them() -> None:
    table = fleet("targets", *DEMO, "--all")
    as_json = fleet("targets", *DEMO, "--all", "-o", "json")
    assert table.returncode == 0 == as_json.returncode, table.stderr
    rows = json.loads(as_json.stdout)
    deallocated = {r["name"] for r in rows if r["power_state"] == "deallocated"}
    assert deallocated  # the demo fleet has some
    grepped = [line for line in table.stdout.splitlines() if "deallocated" in line]
    assert {name for name in deallocated if any(name in line for line in grepped)} == deallocated
    assert len(grepped) == len(deallocated)  # one line per target, never wrapped
    assert GUID in table.stdout and "…" not in table.stdout


def test_tsv_is_one_line_per_target_with_full_fields() -> None:
    proc = fleet("targets", *DEMO, "-t", "env=prod", "-o", "tsv")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and all(len(line.split("\t")) == 9 for line in lines)
    name, _kind, sub, *_rest, arm_id = lines[0].split("\t")
    assert sub == GUID and arm_id.startswith(f"/subscriptions/{GUID}/") and name in arm_id


def test_format_still_works_but_says_it_is_deprecated() -> None:
    proc = fleet("targets", *DEMO, "-t", "env=prod", "--format", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)
    assert "--format is deprecated" in proc.stderr and "-o/--output" in proc.stderr
    bad = fleet("targets", *DEMO, "-t", "env=prod", "-o", "yaml")
    assert bad.returncode == 2 and "table, json or tsv" in bad.stderr


def _render(columns, rows, width: int = 80) -> list[str]:  # type: ignore[no-untyped-def]
    console = Console(width=width, record=True, force_terminal=True, color_system=None)
    console.print(fitted_table(console, columns, rows, title="t"))
    return console.export_text().splitlines()


def test_an_80_column_table_leaves_columns_out_instead_of_cutting_identifiers() -> None:
    rows = [
        ["vmss-flex_10ed0bed", "vmss-flexible", GUID, "rg-finance", "westeurope", "1",
         "windows", "deallocated"],
    ]  # fmt: skip
    lines = _render(TARGET_COLUMNS, rows)
    text = "\n".join(lines)
    assert all(len(line) <= 80 for line in lines)
    assert "vmss-flex_10ed0bed" in text and "deallocated" in text and "…" not in text
    assert "not shown at this width: kind, subscription" in text  # said, not hidden silently
    wide = "\n".join(_render(TARGET_COLUMNS, rows, width=200))
    assert GUID in wide and "not shown" not in wide


def test_fleet_runs_at_80_columns_wraps_outcomes_not_one_word_per_line() -> None:
    outcomes = "94 Succeeded, 4 Failed, 3 TimedOut, 2 Skipped, 10 AccessDenied"
    row = ["20261130-095348-e6c731", "health-check", "interrupted", outcomes,
           "2026-11-30 09:53:48", "35 s", "root@host"]  # fmt: skip
    lines = _render(RUN_COLUMNS, [row])
    body = [line for line in lines if line.startswith("│")]
    assert all(len(line) <= 80 for line in lines)
    assert "20261130-095348-e6c731" in body[0] and "interrupted" in body[0]
    cells = [line.split("│")[4].strip() for line in body]  # the outcomes column
    words = len(outcomes.split())
    assert len(body) <= words // 2  # wrapped at spaces, several words a line (was: 1 a line)
    assert " ".join(c for c in cells if c) == outcomes


def test_run_and_plan_print_json_and_tsv(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    args = ["--sim", "--profile", "small", "-n", "app-0*", "--script", "uptime"]
    ran = fleet("run", *args, "--yes", "-o", "json", "--report", str(report))
    assert ran.returncode == 1, ran.stderr  # app-03: disk full
    assert json.loads(ran.stdout) == json.loads(report.read_text())
    tsv = fleet("run", *args, "--yes", "-o", "tsv")
    rows = [line.split("\t") for line in tsv.stdout.splitlines()]
    assert len(rows) == 9 and {r[0]: r[1] for r in rows}["app-03"] == "Failed"
    plan = fleet("plan", *args, "--batches", "1,50%", "-o", "json")
    document = json.loads(plan.stdout)
    assert [len(b["targets"]) for b in document["batches"]] == [1, 5, 3]  # 50% of 9: 5
    assert len(document["targets"]) == 9 and document["estimate"]["writes"] == 9
    planned = fleet("plan", *args, "-o", "tsv")
    assert all(len(line.split("\t")) == 9 for line in planned.stdout.splitlines())


def test_run_and_show_tsv_say_what_became_of_each_reboot(tmp_path: Path) -> None:
    """-o json had each target's reboot, -o tsv had none: a line per target now carries the
    reboot's outcome and the seconds until the VM was back (empty: no reboot asked), id last;
    fleet show -o tsv reads the same from the journal, and the table says the reboots line."""
    state = ["--state-dir", str(tmp_path / "state")]
    args = ["--sim", "--profile", "small", "-n", "app-0[12]", "--script", "uptime", *state]
    ran = fleet("run", *args, "--reboot", "always", "--yes", "-o", "tsv")
    assert ran.returncode == 0, ran.stderr
    rows = [line.split("\t") for line in ran.stdout.splitlines()]
    assert [r[0] for r in rows] == ["app-01", "app-02"] and all(len(r) == 9 for r in rows)
    assert all(r[6] == "done" and float(r[7]) > 0 and r[8].endswith(r[0]) for r in rows)
    run_id = json.loads(fleet("runs", *state, "-o", "json").stdout)[0]["run_id"]
    shown = fleet("show", run_id, *state, "-o", "tsv")
    assert [line.split("\t") for line in shown.stdout.splitlines()] == rows
    table = fleet("show", run_id, *state)
    assert "fleet rebooted 2 VMs" in table.stdout, table.stdout
    plain = fleet("run", *args, "--yes", "-o", "tsv")
    assert [line.split("\t")[6:8] for line in plain.stdout.splitlines()] == [["", ""]] * 2


def test_clean_prints_tsv_and_json_and_refuses_an_empty_selection() -> None:
    args = ["clean", *DEMO, "-t", "role=web"]
    as_json = fleet(*args, "-o", "json", "--all-owners")
    assert as_json.returncode == 0, as_json.stderr
    listed = json.loads(as_json.stdout)["run_commands"]
    assert listed  # the demo web tier carries other tools' run commands
    tsv = fleet(*args, "-o", "tsv", "--all-owners")
    rows = [line.split("\t") for line in tsv.stdout.splitlines()]
    assert len(rows) == len(listed) and all(len(r) == 7 for r in rows)
    assert {r[1] for r in rows} == {r["run_command"] or "-" for r in listed}
    empty = fleet("clean", *DEMO, "-t", "role=nope")
    assert empty.returncode == 2 and "--allow-empty" in empty.stderr


def test_a_narrow_plan_wraps_between_targets_never_inside_one() -> None:
    """fleet plan at 80 columns printed "vmss-api_18" / "z1/fd1, vmss-api_3": rich wraps at a
    no-break space too, so each line paired a zone with the wrong target."""
    targets = tuple(make_target(f"vmss-api_{i}", scale_set="vmss-api") for i in range(12))
    console = Console(width=40, record=True, force_terminal=True, color_system=None)
    table = Table()
    table.add_column("targets (zone/fault domain)", overflow="fold")
    table.add_row(_names(targets, None))
    console.print(table)
    cells = [line.strip("│ ") for line in console.export_text().splitlines() if "vmss" in line]
    assert len(cells) > 1  # it did wrap
    assert all(cell.endswith(",") or cell == cells[-1] for cell in cells)  # after a target
    words = " ".join(cells).replace(",", " ").split()
    assert words == [f"vmss-api_{i}(z1/-)" for i in range(12)]


def test_sim_inventory_and_profiles_take_the_shared_output_option() -> None:
    """fleet sim inventory had its own --format table|json, fleet sim profiles none."""
    as_json = json.loads(fleet("sim", "inventory", "-p", "small", "-o", "json").stdout)
    tsv = fleet("sim", "inventory", "-p", "small", "-o", "tsv").stdout.splitlines()
    assert len(tsv) == len(as_json) == 20 and all(len(r.split("\t")) == 9 for r in tsv)
    assert [r.split("\t")[0] for r in tsv] == [t["name"] for t in as_json]
    assert all(r.split("\t")[-1] == t["id"] for r, t in zip(tsv, as_json, strict=True))
    legacy = fleet("sim", "inventory", "-p", "small", "--format", "json")
    assert json.loads(legacy.stdout) == as_json and "--format is deprecated" in legacy.stderr
    profiles = json.loads(fleet("sim", "profiles", "-o", "json").stdout)
    assert {"name": "small", "targets": 20} in [
        {k: p[k] for k in ("name", "targets")} for p in profiles
    ]
    listed = fleet("sim", "profiles", "-o", "tsv").stdout.splitlines()
    assert [line.split("\t")[0] for line in listed] == [p["name"] for p in profiles]
    bad = fleet("sim", "inventory", "-p", "small", "-o", "yaml")
    assert bad.returncode == 2 and "table, json or tsv" in bad.stderr and not bad.stdout

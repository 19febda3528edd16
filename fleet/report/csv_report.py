"""The CSV report: one row per target, stable columns, for spreadsheets and ad-hoc analysis.

Rendered from the JSON report's document (``report_to_dict``). ``COLUMNS`` is the contract:
new columns are only ever appended. RFC 4180 quoting (``csv`` module, ``\\r\\n`` rows), UTF-8
with no byte-order mark; empty cells are "no value" (``None``); outputs keep their newlines.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
as a formula (OWASP "CSV injection"), and a VM's output is not to be trusted that far: such a
text cell is written with a leading ``'`` (so is a text cell that starts with ``'``, so the
rule can be undone). ``read_csv`` undoes it and gives back exactly ``csv_rows``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from fleet.report.outcome import verdict_of

#: The columns, in order. ``group`` is the output group's key (the JSON report's ``groups``);
#: ``verdict`` (pass, fail, skip) and ``verdict_reason`` are the job's verdict (``expect:``),
#: ``values`` the numbers it read from the output, as a JSON object; ``reboot`` what became of
#: the reboot its script asked for (done, timed-out, not-requested, refused, unknown, abandoned;
#: empty: none asked) and ``reboot_seconds`` how long until the VM was back (Azure seconds).
COLUMNS: tuple[str, ...] = (
    "run_id",
    "job",
    "target_id",
    "name",
    "kind",
    "subscription",
    "resource_group",
    "location",
    "zone",
    "os",
    "status",
    "reason",
    "exit_code",
    "execution_state",
    "started_at",
    "ended_at",
    "attempts",
    "polls",
    "group",
    "output",
    "error",
    "verdict",
    "verdict_reason",
    "values",
    "reboot",
    "reboot_seconds",
)
INT_COLUMNS = frozenset({"exit_code", "attempts", "polls"})
#: Free text that may come from a VM, a script or a tag: protected against formula injection.
TEXT_COLUMNS = frozenset(
    {"name", "reason", "output", "error", "zone", "execution_state", "verdict_reason"}
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")

Row = dict[str, str | int | None]


def _group_of(document: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(target name, status) → output group key. Groups list names only; two targets that
    share a name (in two resource groups) are told apart by their status, and otherwise share
    the first group (an ambiguity only when the same name failed in two different ways)."""
    keys: dict[tuple[str, str], str] = {}
    for group in document.get("groups") or []:
        for name in group.get("targets") or []:
            keys.setdefault((name, group["status"]), group["key"])
    return keys


def _blank_is_none(value: Any) -> str | int | None:
    return None if value is None or value == "" else value


def csv_rows(document: Mapping[str, Any]) -> list[Row]:
    """The report's rows, typed (``int`` for numbers, ``None`` for no value), by target id."""
    groups = _group_of(document)
    rows: list[Row] = []
    for t in sorted(document.get("targets") or [], key=lambda t: t["id"]):
        row: Row = {"run_id": document["run_id"], "job": document["job"], "target_id": t["id"]}
        row |= {c: _blank_is_none(t.get(c)) for c in COLUMNS[3:18]}
        row["group"] = groups.get((t["name"], t["status"]))
        row["output"] = _blank_is_none(t.get("output"))
        row["error"] = _blank_is_none(t.get("error"))
        verdict = verdict_of(t)
        row["verdict"] = verdict.get("verdict")
        row["verdict_reason"] = _blank_is_none(verdict.get("reason"))
        values = verdict.get("values")
        row["values"] = json.dumps(values, sort_keys=True) if values else None
        reboot = t.get("reboot") or {}
        row["reboot"] = reboot.get("outcome")
        seconds = reboot.get("seconds_to_ready")
        row["reboot_seconds"] = None if seconds is None else f"{seconds:g}"
        rows.append(row)
    return rows


def _cell(column: str, value: str | int | None) -> str:
    if value is None:
        return ""
    text = str(value)
    if column in TEXT_COLUMNS and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_text(document: Mapping[str, Any]) -> str:
    """The CSV document: a header row, then one row per target."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in csv_rows(document):
        writer.writerow([_cell(c, row[c]) for c in COLUMNS])
    return buffer.getvalue()


def _value(column: str, cell: str) -> str | int | None:
    if cell == "":
        return None
    if column in INT_COLUMNS:
        return int(cell)
    if column in TEXT_COLUMNS and cell.startswith("'"):
        return cell[1:]
    return cell


def read_csv(text: str) -> list[Row]:
    """Rows of a CSV report written by ``csv_text`` (columns by header, so a newer file with
    appended columns reads too), typed as ``csv_rows`` gives them."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return [{c: _value(c, row.get(c) or "") for c in COLUMNS} for row in reader]

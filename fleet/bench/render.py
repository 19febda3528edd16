"""The benchmark table (rich): one row per contender plus the lower bound."""

from __future__ import annotations

from typing import Any

from rich.table import Table

# The columns after the contender and its makespan, shared by the table and the Markdown.
COLUMNS = (
    "x bound", "completed", "failed", "skipped", "lost", "not run", "over once", "429s",
    "reads/t", "writes/t", "storage/t", "cpu s", "RSS MB",
)  # fmt: skip


def _num(value: Any, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def _span(row: dict[str, Any]) -> str:
    if row["makespan_s"] is None:
        return "n/a"
    seconds = row["makespan_s"]
    text = f"{seconds:,.0f} s" if seconds < 3600 else f"{seconds / 3600:,.1f} h"
    if row.get("extrapolated"):
        return f"~{text}*"
    return f"{text}†" if row.get("lost") else text


def table(document: dict[str, Any]) -> Table:
    k = document["time_scale"]
    title = (
        f"{document['scenario']['name']}: {document['lower_bound']['targets']:,} targets, "
        f"time scale {k:g} (Azure-equivalent seconds)"
    )
    blind = document["lower_bound"].get("oblivious_s")
    caption = (
        "* extrapolated from the measured fraction (budget reached); † ended early by giving up "
        "on the lost targets"
    )
    if blind is not None:
        caption += (
            f"; the bound assumes the longest scripts start first - launching blind to "
            f"durations at 100% of the limits gives ~{blind:,.0f} s (reference)"
        )
    if "lower_bound_action" in document:
        caption += "; fleet-action's x bound is against the bound of action run commands"
    caption += "".join(_left(r) for r in document["contenders"])
    t = Table(title=title, caption=caption)
    columns = ("contender", "makespan", *COLUMNS)
    for col in columns:
        t.add_column(col, justify="left" if col == "contender" else "right")
    for r in document["contenders"]:
        t.add_row(*_cells(r))
    return t


def _left(r: dict[str, Any]) -> str:
    """The bound for the budget a background load left (``fleet.bench.budget_left``)."""
    if r.get("left_bound_s") is None:
        return ""
    refused = sum(load.get("refused", 0) for load in r.get("background") or ())
    return (
        f"; {r['name']} vs the budget the background left: bound {r['left_bound_s']:,.0f} s, "
        f"x {_num(r.get('left_ratio'), '{:,.2f}')} (background refused {refused})"
    )


def _cells(r: dict[str, Any]) -> tuple[str, ...]:
    return (
        r["name"],
        _span(r),
        _num(r["ratio"], "{:,.2f}"),
        f"{_num(r['completed'])}/{_num(r['targets'])}",
        _num(r["failed"]),
        _num(r["skipped"]),
        _num(r["lost"]),
        _num(r["not_run"]),
        _num(r["executions_over_once"]),
        _num(r["throttled"]),
        _num(r["reads_per_target"], "{:.2f}"),
        _num(r["writes_per_target"], "{:.2f}"),
        _num(r.get("storage_requests_per_target"), "{:.2f}"),
        _num(r["cpu_s"], "{:.1f}"),
        _num(r["peak_rss_mb"], "{:.0f}"),
    )


def markdown(document: dict[str, Any]) -> str:
    """The same table as Markdown (for bench/README.md)."""
    head = ("contender", "makespan (Azure s)", *COLUMNS)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in document["contenders"]:
        cells = list(_cells(r))
        cells[0] = f"**{cells[0]}**" if r["name"].startswith("fleet") else cells[0]
        lines.append(
            "| " + " | ".join(c.replace("*", "\\*") if i else c for i, c in enumerate(cells)) + " |"
        )
    return "\n".join(lines)

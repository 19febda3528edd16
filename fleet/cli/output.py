"""How commands print results, az style: ``-o/--output table|json|tsv``.

- ``table`` for people. On a terminal, a table that does not fit leaves out its least useful
  columns (and says which) and wraps free text; it never cuts an identifier short. Not on a
  terminal (a pipe, a file) nothing is wrapped or cut: one line per row, full values, so
  ``fleet targets ... | grep deallocated`` finds what it should.
- ``json`` for programs: the same documents as ``--report`` and the library.
- ``tsv`` for shell pipelines: one line per row, tab-separated, no header (as ``az -o tsv``);
  tabs and newlines inside a value become spaces.

``--format`` is the old name of ``--output`` (table or json only); it still works, with a
warning on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.cells import cell_len
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from fleet.cli.exits import err_console
from fleet.errors import SpecError

OUTPUTS = ("table", "json", "tsv")
UNBOUNDED = 10_000  # console width off a terminal: rows are never wrapped or cut

OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        help="table, json or tsv (default: table, or output in the fleet config file).",
        rich_help_panel="Output",
        show_default=False,
    ),
]
FormatOpt = Annotated[
    str | None,
    typer.Option("--format", hidden=True, help="Deprecated: use -o/--output."),
]


def output_format(output: str | None, legacy: str | None = None, default: str = "table") -> str:
    """The chosen format: ``--output``, else the deprecated ``--format``, else ``default``."""
    if legacy is not None:
        err_console.print("warning: --format is deprecated; use -o/--output", highlight=False)
        output = output or legacy
    chosen = (output or default).lower()
    if chosen not in OUTPUTS:
        message = f"--output must be table, json or tsv, got {output!r}."
        raise SpecError(message)
    return chosen


def stdout_console() -> Console:
    """The console for results: the terminal's width on a terminal, unbounded elsewhere."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=UNBOUNDED, soft_wrap=False)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def print_tsv(rows: Iterable[Sequence[Any]]) -> None:
    for row in rows:
        sys.stdout.write("\t".join(_cell(v) for v in row) + "\n")


@dataclass(frozen=True)
class Column:
    """A table column. ``keep``: 0 = always shown; higher numbers are left out first when the
    terminal is too narrow. ``wrap``: free text that may wrap at spaces; other columns hold
    identifiers and values that are never split."""

    header: str
    keep: int = 0
    justify: JustifyMethod = "left"
    wrap: bool = False


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _min_width(column: Column, cells: Sequence[str]) -> int:
    measure = _longest_word if column.wrap else cell_len  # no_wrap covers the header too
    return max([measure(column.header), *(measure(c) for c in cells)])


def fitted_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    styles: Sequence[str | None] | None = None,
) -> Table:
    """A table of ``rows`` that fits ``console``: columns left out by ``keep`` until it does
    (the caption names them), free text wrapped at spaces, identifiers whole."""
    texts = [[_cell(v) for v in row] for row in rows]
    need = [_min_width(c, [row[i] for row in texts]) + 3 for i, c in enumerate(columns)]
    shown = list(range(len(columns)))
    while sum(need[i] for i in shown) + 1 > console.width:
        droppable = [i for i in shown if columns[i].keep > 0]
        if not droppable:
            break
        shown.remove(max(droppable, key=lambda i: (columns[i].keep, i)))
    table = Table(title=None if title is None else Text(title, no_wrap=True, overflow="ignore"))
    for i in shown:
        col = columns[i]
        table.add_column(col.header, justify=col.justify, no_wrap=not col.wrap, overflow="fold")
    for n, row in enumerate(texts):
        table.add_row(*(row[i] for i in shown), style=styles[n] if styles else None)
    left_out = [c.header for i, c in enumerate(columns) if i not in shown]
    if left_out:
        table.caption = (
            f"not shown at this width: {', '.join(left_out)} (-o tsv or -o json: every field)"
        )
    return table


def print_json_or_tsv(fmt: str, document: Any, rows: Iterable[Sequence[Any]]) -> bool:
    """``-o json``: print ``document``; ``-o tsv``: print ``rows``. False for ``-o table``,
    which is the caller's to print (usually with :func:`print_table`)."""
    if fmt == "json":
        print_json(document)
    elif fmt == "tsv":
        print_tsv(rows)
    return fmt in ("json", "tsv")


def print_table(
    columns: Sequence[Column],
    cells: Sequence[Sequence[Any]],
    *,
    title: str,
    styles: Sequence[str | None] | None = None,
) -> Console:
    """A :func:`fitted_table` on stdout; the console, for any lines after it."""
    console = stdout_console()
    console.print(fitted_table(console, columns, cells, title=title, styles=styles))
    return console

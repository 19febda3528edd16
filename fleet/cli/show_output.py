"""``fleet show RUN_ID --target NAME``: one target's whole output, as fleet kept it from the
output blobs (``FullOutput``: a file per stream), else the 4 KB tails the instance view had.
Bytes go out untouched (stdout to stdout, stderr to stderr); notes go to stderr, dimmed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

from fleet.cli.exits import err_console
from fleet.errors import SpecError
from fleet.model import RunReport, StreamCopy, TargetResult


def _find(report: RunReport, wanted: str) -> TargetResult:
    low = wanted.lower()
    found = [r for r in report.results if low in (r.target.name.lower(), r.target.id.lower())]
    if len(found) == 1:
        return found[0]
    if found:
        ids = ", ".join(r.target.id for r in found)
        raise SpecError(
            f"--target {wanted}: {len(found)} targets have that name ({ids}); give an id."
        )
    message = (
        f"--target {wanted}: run {report.run_id} has no such target "
        f"(fleet show {report.run_id} lists them)."
    )
    raise SpecError(message)


def _copy(stream: StreamCopy, out: BinaryIO) -> str | None:
    """Write the kept stream; a note when it cannot (or only partly)."""
    if stream.size is None:
        return f"{stream.blob}: no such blob"
    if stream.path is None:
        return f"{stream.blob}: fleet kept no local copy (the run had no journal or report)"
    try:
        data = Path(stream.path).read_bytes()
    except OSError as exc:
        return f"{stream.path}: {exc.strerror or exc} (fleet kept the output there)"
    out.write(data)
    out.flush()
    if stream.truncated:
        return f"{stream.blob}: only its last {stream.saved:,} of {stream.size:,} bytes were kept"
    return None


def print_output(report: RunReport, wanted: str) -> None:
    result = _find(report, wanted)
    full = result.full_output
    notes: list[str] = []
    if full is None:
        sys.stdout.write(result.output)
        sys.stdout.flush()
        sys.stderr.write(result.error)
        notes.append("the last 4 KB of each stream (the job had no output storage)")
    else:
        notes += [
            n
            for n in (_copy(full.stdout, sys.stdout.buffer), _copy(full.stderr, sys.stderr.buffer))
            if n
        ]
        if full.note:
            notes.append(full.note)
    for note in notes:
        err_console.print(f"[dim]fleet: {note}[/]", highlight=False, soft_wrap=True)

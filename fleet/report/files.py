"""Writing a report file: atomically for a regular file — readers (a CI step, a browser, a
tail -f) see the old file or the new one, never half of it, and a failure leaves no temporary
file behind — and in place for a device or a pipe (``/dev/stdout``, a FIFO), which a rename
would replace (as root, ``--report /dev/full`` used to turn the device into a file and report
success). A write that fails is ``ReportWriteError`` (exit code 5)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from fleet.errors import ReportWriteError


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``: through a synced temporary file in the same directory, or in
    place when ``path`` is a device or a pipe."""
    try:
        if path.exists() and not path.is_file():
            _in_place(path, data)
        else:
            _atomically(path, data)
    except OSError as exc:
        message = f"cannot write the report to {path}: {exc.strerror or exc}"
        raise ReportWriteError(message) from exc


def _in_place(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()  # a full device refuses here (ENOSPC), not at close


def _atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

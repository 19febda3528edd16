"""One ``fleet serve`` per state directory: an exclusive ``fcntl.flock`` on
``STATE_DIR/serve.lock``, held for the life of the process (the kernel drops it however the
process ends, SIGKILL included), and a line in the file naming the holder for the message the
second one gets.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from fleet.errors import ServiceLocked

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # no flock: one service per state dir is not enforced

FILE = "serve.lock"


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
        return (
            f"pid {info['pid']} on host {info['host']} since {info['since']}, "
            f"listening on {info['listen']}"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextlib.contextmanager
def service_lock(state_dir: Path, listen: str) -> Iterator[None]:
    """Hold the state directory's service lock, or raise ``ServiceLocked`` saying who has it."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                message = (
                    f"fleet serve is already running on the state directory {state_dir} "
                    f"({_holder(path)}). Only one service may schedule a state directory: stop "
                    "that one, or give this one another --state-dir."
                )
                raise ServiceLocked(message) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
            "listen": listen,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock

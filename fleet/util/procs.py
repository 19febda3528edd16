"""Helper services (Azurite, a Temporal dev server, a browser) as child process groups.

Each service runs in a session of its own (so its process group is its whole tree), writes its
output to a log file (never to a pipe: the process that started it may exit first, as a
pytest-xdist worker does, and a service writing into a closed pipe dies), is ready when a probe
says so, and is stopped with its whole group: SIGTERM, then SIGKILL after a grace period.

A :class:`ProcessRef` (pid plus start time) lets another process stop a service later without
ever signalling a stranger that reused the pid. Liveness reads ``/proc`` where it exists, and a
zombie counts as gone (whoever reaps it); elsewhere it falls back to signal 0.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")
InfoT = TypeVar("InfoT")
PROC = Path("/proc")


class ServiceError(Exception):
    """A helper service could not be found, started, reached or stopped. The message names the
    service and the setup step that fixes it; callers in fleet's core wrap it into their own
    error tree (this module is a leaf and imports nothing from fleet)."""


@dataclass(frozen=True)
class ProcessRef:
    """A process that leads its own group, named so that a reused pid is never mistaken for it:
    ``started`` is its start time in clock ticks since boot (``/proc/PID/stat`` field 22)."""

    pid: int
    started: int | None

    @classmethod
    def of(cls, pid: int) -> ProcessRef:
        stat = _stat(pid)
        return cls(pid, stat[1] if stat else None)

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "started": self.started}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessRef:
        return cls(int(data["pid"]), data.get("started"))

    def is_running(self) -> bool:
        """Some process of this group still runs (and the pid was not reused by a stranger)."""
        return self.is_ours() and bool(_group_members(self.pid))

    def is_alive(self) -> bool:
        """This very process still runs (not a zombie, not a stranger with its pid)."""
        stat = _stat(self.pid)
        if stat is None:
            return False
        return stat[0] not in ("Z", "X") and (self.started is None or stat[1] == self.started)

    def is_ours(self) -> bool:
        """False when the pid now belongs to a process that started at another time."""
        stat = _stat(self.pid)
        return stat is None or self.started is None or stat[1] == self.started


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, start time, process group) of ``pid`` from ``/proc``; None if unknown."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    rest = text.rpartition(")")[2].split()  # the command name may hold spaces and parentheses
    return rest[0], int(rest[19]), int(rest[2])


def _group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in group ``pgid``."""
    if not PROC.is_dir():  # pragma: no cover - no /proc (macOS): signal 0 is all we have
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[2] == pgid and stat[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


class OwnedService(Generic[InfoT]):
    """Base of an object that owns one service process group: ``with Service(...) as info:``
    starts it and stops it with its whole tree. Subclasses implement ``start`` and set
    ``self._proc`` to the process ``spawn`` returned."""

    _proc: subprocess.Popen[bytes] | None = None

    def start(self) -> InfoT:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the service and everything it started (idempotent)."""
        if self._proc is not None:
            stop(self._proc)
            self._proc = None

    def __enter__(self) -> InfoT:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def find_executable(
    what: str, *, env: str, candidates: Sequence[Path], name: str, fix: str
) -> Path:
    """The program to run: ``$env`` if set (it must be executable), else the first executable
    of ``candidates``, else ``name`` on PATH; otherwise a ServiceError ending with ``fix``."""
    configured = os.environ.get(env)
    if configured:
        if os.access(configured, os.X_OK):
            return Path(configured)
        message = f"{env}={configured} is not an executable file: {fix}"
        raise ServiceError(message)
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    looked = ", ".join(str(c) for c in candidates) or "nowhere else"
    message = f"{what} is not installed (looked in {looked} and on PATH): {fix}"
    raise ServiceError(message)


def spawn(
    argv: Sequence[str],
    *,
    name: str,
    log_path: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session with stdout and stderr appended to ``log_path``."""
    try:
        with log_path.open("ab") as log:
            return subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=cwd, env=None if env is None else dict(env), start_new_session=True,
            )  # fmt: skip
    except OSError as exc:
        message = f"cannot start {name} ({argv[0]}): {exc.strerror or exc}"
        raise ServiceError(message) from None


def wait_ready(
    proc: subprocess.Popen[bytes],
    probe: Callable[[], T | None],
    *,
    name: str,
    log_path: Path,
    timeout: float,
) -> T:
    """Poll ``probe`` until it returns a value; fail early if the process exits, and stop it if
    it is not ready within ``timeout`` seconds. Errors quote the end of the service's log."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        code = proc.poll()
        if code is not None:
            stop(proc)  # its children, if any
            message = f"{name} exited with code {code} before it was ready; {log_tail(log_path)}"
            raise ServiceError(message)
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            stop(proc)
            message = f"{name} was not ready within {timeout:g} s; {log_tail(log_path)}"
            raise ServiceError(message)
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def stop(proc: subprocess.Popen[bytes], *, grace: float = 5.0) -> None:
    """Stop the group that ``proc`` (our own child) leads, then reap ``proc``."""
    stop_group(ProcessRef(proc.pid, None), grace=grace)
    proc.wait(timeout=grace)


def stop_group(ref: ProcessRef, *, grace: float = 5.0) -> None:
    """SIGTERM the group ``ref`` leads, SIGKILL whatever is left after ``grace`` seconds, and
    return once no process of it runs. A pid now held by a stranger is left alone."""
    if not ref.is_ours():
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _group_members(ref.pid):
            return
        try:
            os.killpg(ref.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while _group_members(ref.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
    left = _group_members(ref.pid)
    if left:
        message = f"process group {ref.pid} survived SIGKILL: pids {left}"
        raise ServiceError(message)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now, for a service that cannot bind port 0 itself."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a service's log, introduced for an error message."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"no log at {path}"
    tail = "\n".join(text.rstrip().splitlines()[-lines:])
    return f"the end of its log {path}:\n{tail}" if tail else f"its log {path} is empty"


def read_log(path: Path) -> str:
    """A service's log so far ('' before it exists), for probes that wait for a ready line."""
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""

"""One instance of each helper service per pytest session, shared by every xdist worker.

The session's controller (or the lone process without xdist) owns a directory that it hands to
every worker. A service starts lazily: the first process that asks for it starts it while it
holds an exclusive ``flock`` on ``<dir>/<name>.lock`` and records ``<name>.json`` (how to reach
it, and its ``ProcessRef`` under ``pid``/``started``); the others wait on the lock, then read
that record. A start that failed is recorded in ``<name>.failed`` and raised again to every
later asker, so no worker retries a broken setup. The owner stops every recorded service at the
end of the session and removes the directory.

A session killed outright (SIGKILL of the controller) cannot clean up: the next session that
creates a directory in the same place first stops the services of every session directory whose
owner (``owner.ref``) no longer runs.

Services run in process groups of their own (``fleet.util.procs``), so they outlive the worker
that started them (it may finish first) and die with their whole tree.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fleet.util.procs import ProcessRef, ServiceError, stop_group

Starter = Callable[[Path], tuple[dict[str, Any], object]]
PREFIX = "fleet-services-"
OWNER = "owner.ref"


class ServiceHub:
    """Starts each named service at most once per session directory; see the module doc."""

    def __init__(self, directory: Path, *, owner: bool) -> None:
        self.directory = directory
        self.owner = owner
        self._handles: list[object] = []  # keeps this process's Popen objects alive until exit

    @classmethod
    def create(cls, root: Path | None = None) -> ServiceHub:
        """A new session directory under ``root`` (default: the system's temporary directory),
        owned by this process, after reaping the sessions abandoned there."""
        root = Path(root or tempfile.gettempdir())
        reap_abandoned(root)
        directory = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))
        (directory / OWNER).write_text(json.dumps(ProcessRef.of(os.getpid()).to_dict()))
        return cls(directory, owner=True)

    def get(self, name: str, start: Starter) -> dict[str, Any]:
        """The record of service ``name``, started with ``start(workdir)`` if nobody has yet.

        ``start`` returns the record (with ``pid`` and ``started``) and a handle to keep alive.
        """
        record, failed = self._path(name, "json"), self._path(name, "failed")
        with self._locked(name):
            if record.exists():
                return dict(json.loads(record.read_text()))
            if failed.exists():
                raise ServiceError(failed.read_text())
            try:
                data, handle = start(self.directory / name)
            except ServiceError as exc:
                failed.write_text(str(exc))
                raise
            self._handles.append(handle)
            tmp = self._path(name, "json.tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(record)
            return data

    def close(self) -> list[str]:
        """Stop every service and remove the directory (the owner only); return what failed."""
        if not self.owner:
            return []
        problems = []
        for record in sorted(self.directory.glob("*.json")):
            try:
                stop_group(ProcessRef.from_dict(json.loads(record.read_text())))
            except (ServiceError, OSError, ValueError, KeyError) as exc:
                problems.append(f"{record.stem}: {exc!r}")
        shutil.rmtree(self.directory, ignore_errors=True)
        return problems

    def _path(self, name: str, suffix: str) -> Path:
        return self.directory / f"{name}.{suffix}"

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        with self._path(name, "lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def reap_abandoned(root: Path) -> list[Path]:
    """Stop the services of the session directories under ``root`` whose owner died without
    cleaning up, remove those directories, and return them."""
    reaped = []
    for directory in sorted(root.glob(f"{PREFIX}*")):
        try:
            owner = ProcessRef.from_dict(json.loads((directory / OWNER).read_text()))
        except (OSError, ValueError, KeyError):
            continue  # not a session directory, or one being created right now
        if not owner.is_alive():
            ServiceHub(directory, owner=True).close()
            reaped.append(directory)
    return reaped

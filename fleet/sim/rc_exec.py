"""Exec mode: really run run-command scripts with ``bash`` on this machine.

Owns the processes behind exec-mode executions: one private directory per VM under a base
directory (removed by :meth:`ExecRunner.aclose`), at most ``max_processes`` scripts at once,
timeouts and cancellation by killing the script's whole process group. It writes the
execution's :class:`~fleet.sim.rc_state.LiveRun`; ``rc_state.view`` reads it.

Semantics follow the Linux run-command handler: named parameters become environment
variables, unnamed ones positional arguments (each value one argument: the handler splices
them into a shell command line, which splits values on spaces; we don't). The script gets a
minimal environment (PATH, HOME = its VM directory, LANG) rather than the emulator's own, so
nothing of the server's environment leaks into scripts. ``runAsUser`` is not switched to (an
unknown user still fails the run before anything starts, see ``rc_handler``).

Time: the script itself runs on the wall clock, and everything it is measured with is scaled
like the rest of the emulator: ``timeoutInSeconds`` (Azure seconds) is enforced after
``timeout / K`` wall seconds (never for ``timeoutInSeconds: 0``, as in the Linux handler), and
``startTime``/``endTime`` come from the store's clock (a 2 s script at K = 20 shows 40
Azure-seconds).

The runner's lifetime is the server's, not a lexical scope, so it tracks its asyncio tasks
itself and :meth:`aclose` cancels and joins them (instead of a task group).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from fleet.sim.clock import SimClock
from fleet.sim.rc_handler import BLOB_CREATE_FAILED
from fleet.sim.rc_state import KILLED_EXIT_CODE, OUTPUT_LIMIT, Execution, LiveRun

_DRAIN_S = 2.0  # how long to wait for pipes after the script exits (grandchildren may hold them)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ExecRunner:
    """Runs scripts as real ``bash`` processes; see the module docstring."""

    def __init__(
        self,
        base_dir: str | Path | None = None,
        clock: SimClock | None = None,
        *,
        max_processes: int = 8,
        shell: str = "bash",
    ) -> None:
        """``base_dir`` None = the system temp dir; ``clock`` None = the store's (bind_clock)."""
        if max_processes < 1:
            raise ValueError(f"max_processes must be >= 1, got {max_processes}")
        if base_dir is not None:
            Path(base_dir).mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="fleet-rc-", dir=base_dir))
        self._clock = clock
        self._shell = shell
        self._slots = asyncio.Semaphore(max_processes)
        self._tasks: set[asyncio.Task[None]] = set()
        self._procs: dict[int, asyncio.subprocess.Process] = {}  # id(execution) -> process
        self._closed = False
        self.running = 0
        self.peak_running = 0
        self.started_total = 0

    def bind_clock(self, clock: SimClock) -> None:
        """Take timestamps from the store's clock unless one was given explicitly."""
        if self._clock is None:
            self._clock = clock

    def start(
        self,
        execution: Execution,
        script: str,
        env: dict[str, str],
        args: list[str],
        timeout_s: float | None,
        *,
        prepare: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """Schedule the script (needs a running loop); the execution is Pending until it starts.
        ``prepare`` runs first once the handler has picked it up (Running): the output blobs
        are created there, and False means the run failed before the script (exit code -101)."""
        if self._closed:
            raise RuntimeError("ExecRunner is closed")
        if self._clock is None:
            raise RuntimeError("ExecRunner has no clock: pass one or call bind_clock()")
        if execution.live is None:
            execution.live = LiveRun()
        # Azure seconds, like everything else; None = the handler sets no timeout at all
        wall_timeout = None if timeout_s is None else self._clock.to_wall(timeout_s)
        task = asyncio.get_running_loop().create_task(
            self._run(execution, script, env, args, wall_timeout, prepare)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel(self, execution: Execution) -> None:
        """Kill the execution's process group (a not-yet-started one will never start)."""
        proc = self._procs.get(id(execution))
        if proc is not None:
            _kill_group(proc)

    async def join(self) -> None:
        """Wait until every scheduled script has finished (tests, orderly shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Kill every process, cancel every task, and remove the working directories."""
        self._closed = True
        for proc in list(self._procs.values()):
            _kill_group(proc)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        shutil.rmtree(self.root, ignore_errors=True)

    async def __aenter__(self) -> ExecRunner:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- one script -------------------------------------------------------------------------

    async def _run(
        self,
        ex: Execution,
        script: str,
        env: dict[str, str],
        args: list[str],
        timeout_s: float | None,
        prepare: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        async with self._slots:
            if ex.canceled_at is not None or self._closed:
                return
            live = ex.live
            assert live is not None
            if prepare is not None:
                live.started_at = self._now()  # the handler reports Running, then makes blobs
                if not await prepare():
                    live.ended_at, live.exit_code = self._now(), BLOB_CREATE_FAILED
                    return
            workdir = self._vm_dir(ex.target)
            path = workdir / f"{_SAFE.sub('_', ex.run_command)}.{ex.seq}.sh"
            path.write_text(script, encoding="utf-8")
            await self._spawn_and_wait(ex, path, workdir, env, args, timeout_s)

    async def _spawn_and_wait(
        self,
        ex: Execution,
        path: Path,
        workdir: Path,
        env: dict[str, str],
        args: list[str],
        timeout_s: float | None,
    ) -> None:
        live = ex.live
        assert live is not None
        try:
            proc = await asyncio.create_subprocess_exec(
                self._shell,
                str(path),
                *args,
                cwd=workdir,
                env=_script_env(workdir, env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # own process group, so a kill reaches its children
            )
        except OSError as exc:
            live.started_at = live.started_at or self._now()
            live.ended_at = self._now()
            live.exit_code = 127
            live.stderr += f"failed to start {self._shell}: {exc}\n".encode()
            return
        if live.started_at is None:
            live.started_at = self._now()
        self._procs[id(ex)] = proc
        self.running += 1
        self.started_total += 1
        self.peak_running = max(self.peak_running, self.running)
        try:
            if ex.canceled_at is not None:  # canceled while the process was being created
                _kill_group(proc)
            await self._wait(proc, live, timeout_s)
        finally:
            self.running -= 1
            self._procs.pop(id(ex), None)
            if proc.returncode is None:  # our task was canceled (aclose): reap the process
                _kill_group(proc)
                await proc.wait()

    async def _wait(
        self, proc: asyncio.subprocess.Process, live: LiveRun, timeout_s: float | None
    ) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        keep = live.keep_full
        pumps = [
            asyncio.ensure_future(_pump(proc.stdout, live.stdout, keep, live.full_stdout)),
            asyncio.ensure_future(_pump(proc.stderr, live.stderr, keep, live.full_stderr)),
        ]
        try:
            try:
                await asyncio.wait_for(proc.wait(), timeout=timeout_s)
            except TimeoutError:
                live.timed_out = True
                _kill_group(proc)
                await proc.wait()
            await asyncio.wait(pumps, timeout=_DRAIN_S)
        finally:
            for pump in pumps:
                pump.cancel()
        code = proc.returncode
        # A signalled process reports -1, as the handler's Go exec does.
        live.exit_code = KILLED_EXIT_CODE if code is None or code < 0 else code
        live.ended_at = self._now()

    def _now(self) -> float:
        assert self._clock is not None  # checked in start()
        return self._clock.now()

    def _vm_dir(self, target: str) -> Path:
        name = target.rstrip("/").rsplit("/", 1)[-1]
        digest = hashlib.sha256(target.lower().encode()).hexdigest()[:10]
        path = self.root / f"{_SAFE.sub('_', name)}-{digest}"
        path.mkdir(exist_ok=True)
        return path


async def _pump(
    stream: asyncio.StreamReader, tail: bytearray, keep: bool, whole: bytearray
) -> None:
    """Copy a stream into ``tail``, keeping only the last OUTPUT_LIMIT bytes (and all of it in
    ``whole`` when ``keep``: the handler's stdout file, for output blobs)."""
    while chunk := await stream.read(65536):
        if keep:
            whole += chunk
        tail += chunk
        if len(tail) > OUTPUT_LIMIT:
            del tail[:-OUTPUT_LIMIT]


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _script_env(workdir: Path, params: dict[str, str]) -> dict[str, str]:
    base = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
    }
    return {**base, **params}

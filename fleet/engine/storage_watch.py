"""Completion seen in storage (``completion: storage``): instead of reading each run command's
instance view from ARM, fleet watches the run's output container for the completion record
the wrapped script appends to its stdout blob (``fleet.util.completion``).

``CompletionWatcher`` (one per run, its ``run`` loop in the runner's task group) looks at the
container every ``poll_s`` while targets wait: one List Blobs over the run's prefix covers every
target (a page holds 5,000 blobs); when only a few targets are left it asks for their blobs'
properties instead, whichever is fewer requests. A stdout blob that grew gets one ranged read
of its last ``tail_bytes``; once it holds this run's record, so must the stderr blob (the
handler appends stdout's last bytes first, then stderr's: only the record in both says both
blobs are whole), and then the wait ends. Requests are paced by the store and counted for the
report.

``follow`` is one target's wait. A target whose blob shows no record is asked about in ARM —
once when it is *suspect* (no record ``suspect_factor`` x the 95th percentile of the
completion times seen so far, or ``suspect_s`` before enough are known), and then when it is
overdue (``fleet.engine.deadlines``: its pending timeout, or its run limit plus wedge grace
once seen started) — the dead agent, the script killed at its timeout, the blob the agent
could not write. Those are the ARM watch's own reads (``Watcher.read``/``overdue``), so the
result is the one ARM polling would report. If the container
cannot be read at all (missing, access denied, unreachable ``blind_after`` times in a row) the
watcher goes *blind* and every target falls back to ARM polling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import anyio
import structlog

from fleet.engine.deadlines import Overdue
from fleet.engine.settings import WatchSettings
from fleet.engine.watch import Reads, Watcher, result_from_view
from fleet.model import BlobState, CallError, Invocation, RunView, Target, TargetResult
from fleet.ports import Clock, OutputStore
from fleet.secrets import Secrets
from fleet.util.completion import split_record

log = structlog.get_logger("fleet.engine")
PAGE = 5000  # blobs per List Blobs page
_EPSILON = 1e-3  # of poll_s: a check this close is due now (float noise must not spin loops)


@dataclass
class Tail:
    """The last bytes of one blob as read: ``data`` is its bytes [start, end)."""

    data: bytes = b""
    start: int = 0
    end: int = 0
    code: int | None = None  # the exit code of this run's record in it


@dataclass
class Seen:
    """What the watcher knows of one target's blobs."""

    stdout: BlobState | None = None
    stderr: BlobState | None = None
    out: Tail = field(default_factory=Tail)
    err: Tail = field(default_factory=Tail)

    @property
    def exit_code(self) -> int | None:
        """The record's exit code once both blobs hold it (the script ended, both whole)."""
        return self.out.code if self.err.code is not None else None


@dataclass
class CompletionWatcher:
    store: OutputStore
    run_id: str
    clock: Clock
    settings: WatchSettings = field(default_factory=WatchSettings)
    blind: CallError | None = None
    _waiting: dict[str, anyio.Event] = field(default_factory=dict)
    _seen: dict[str, Seen] = field(default_factory=dict)
    _durations: list[float] = field(default_factory=list)
    _launched: dict[str, float] = field(default_factory=dict)
    _wake: anyio.Event = field(default_factory=anyio.Event)
    _failures: int = 0
    _blobs: int = 0  # blobs in the run's prefix at the last listing

    def seen(self, prefix: str) -> Seen | None:
        return self._seen.get(prefix)

    async def run(self) -> None:
        """Look at the container while anyone waits (until cancelled with the run)."""
        while True:
            if not self._waiting or self.blind is not None:
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            started = self.clock.now()
            await self._look()
            await self.clock.sleep(max(0.0, self.settings.poll_s - (self.clock.now() - started)))

    async def wait(self, prefix: str, until: float) -> Seen | None:
        """The target's ``Seen`` once its record is there; None at ``until`` (clock time) or
        when the watcher goes blind."""
        seen = self._seen.get(prefix)
        if seen is not None and seen.exit_code is not None:
            return seen
        if self.blind is not None or until <= self.clock.now():
            return None
        event = self._waiting.setdefault(prefix, anyio.Event())
        self._wake.set()
        with anyio.move_on_after(until - self.clock.now()):
            await event.wait()
        seen = self._seen.get(prefix)
        return seen if seen is not None and seen.exit_code is not None else None

    def launched(self, prefix: str, at: float) -> None:
        self._launched.setdefault(prefix, at)

    def forget(self, prefix: str) -> None:
        """Stop looking for ``prefix`` (its target is final, or no longer watched)."""
        self._waiting.pop(prefix, None)

    def suspect_at(self, launched_at: float) -> float:
        """Clock time after which a target without a record is asked about in ARM."""
        s = self.settings
        if len(self._durations) < s.learn_after:
            return launched_at + s.suspect_s
        ordered = sorted(self._durations)
        p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
        return launched_at + max(s.min_suspect_s, s.suspect_factor * p95)

    # -- one look at the container ---------------------------------------------------------------

    async def _look(self) -> None:
        waiting = list(self._waiting)
        if len(waiting) < max(1, math.ceil(self._blobs / PAGE)):
            states = await self._properties(waiting)
        else:
            states = await self._listing()
        if isinstance(states, CallError):
            self._failed(states)
            return
        self._failures = 0
        async with anyio.create_task_group() as tg:
            for prefix in waiting:
                tg.start_soon(self._follow_up, prefix, states)

    async def _listing(self) -> dict[str, BlobState] | CallError:
        listed = await self.store.list(self.run_id + "/")
        if isinstance(listed, CallError):
            return listed
        self._blobs = len(listed)
        return {state.name: state for state in listed}

    async def _properties(self, prefixes: list[str]) -> dict[str, BlobState] | CallError:
        found: dict[str, BlobState] = {}
        errors: list[CallError] = []

        async def one(name: str) -> None:
            got = await self.store.properties(name)
            if isinstance(got, CallError):
                errors.append(got)
            elif got is not None:
                found[name] = got

        async with anyio.create_task_group() as tg:
            for prefix in prefixes:
                seen = self._seen.get(prefix)
                stream = "stderr" if seen is not None and seen.out.code is not None else "stdout"
                tg.start_soon(one, f"{prefix}/{stream}")
        return errors[0] if errors else found

    async def _follow_up(self, prefix: str, states: dict[str, BlobState]) -> None:
        """Read what grew: stdout until it holds the record, then stderr until it does."""
        seen = self._seen.setdefault(prefix, Seen())
        seen.stdout = states.get(f"{prefix}/stdout", seen.stdout)
        seen.stderr = states.get(f"{prefix}/stderr", seen.stderr)
        if seen.out.code is None:
            await self._read_tail(seen.stdout, seen.out)
        if seen.out.code is not None and seen.err.code is None:
            await self._read_tail(seen.stderr, seen.err)
        if seen.exit_code is not None:
            if prefix in self._launched:
                self._durations.append(self.clock.now() - self._launched[prefix])
            event = self._waiting.pop(prefix, None)
            if event is not None:
                event.set()

    async def _read_tail(self, state: BlobState | None, tail: Tail) -> None:
        """Read the blob's end if it grew past what was read (failures: at the next look)."""
        if state is None or state.size <= tail.end:
            return
        offset = max(0, state.size - self.settings.tail_bytes)
        data = await self.store.read(state.name, offset, state.size - offset)
        if isinstance(data, CallError):
            return
        tail.data, tail.start, tail.end = data, offset, offset + len(data)
        tail.code = split_record(data, self.run_id)[1]

    def _failed(self, error: CallError) -> None:
        self._failures += 1
        hard = error.status in (401, 403, 404)
        if hard or self._failures >= self.settings.blind_after:
            self.blind = error
            log.warning("storage.blind", status=error.status, code=error.code, reason=error.message)
            for event in self._waiting.values():
                event.set()
            self._waiting.clear()


async def follow(
    watcher: CompletionWatcher,
    arm: Watcher,
    target: Target,
    inv: Invocation,
    where: tuple[str, float],
) -> TargetResult | None:
    """One target's end, from its blobs or (when suspect, when overdue) from ARM through
    ``arm``'s reads. ``where``: (blob prefix, launch time on the clock). None: the watcher went
    blind — poll ARM instead."""
    prefix, launched_at = where
    watcher.launched(prefix, launched_at)
    try:
        return await _follow(watcher, arm, target, inv, where)
    finally:
        watcher.forget(prefix)
        arm.planner.release(target.id.lower())


async def _follow(
    watcher: CompletionWatcher,
    arm: Watcher,
    target: Target,
    inv: Invocation,
    where: tuple[str, float],
) -> TargetResult | None:
    prefix, launched_at = where
    due, seen, asked = arm.due(inv), Reads(), False
    while True:
        record = await _record_until(watcher, prefix, launched_at, due, asked)
        if record is not None:
            return status_for_record(target, inv, record, seen.polls, arm.secrets)
        if watcher.blind is not None:
            return None
        ended = await arm.read(target, inv, seen, due, launched_at)
        if ended is not None:
            return ended
        asked = True
        if watcher.clock.now() - launched_at >= due.at - _EPSILON * watcher.settings.poll_s:
            return arm.overdue(target, seen, due)


async def _record_until(
    watcher: CompletionWatcher, prefix: str, launched_at: float, due: Overdue, asked: bool
) -> Seen | None:
    """Wait for the record until the target is suspect (first) or overdue (then); the times
    are looked at again every ``recheck_s``: the watcher learns while it waits."""
    while True:
        check = launched_at + due.at
        if not asked:
            check = min(check, watcher.suspect_at(launched_at))
        now = watcher.clock.now()
        if now >= check:
            return None
        seen = await watcher.wait(prefix, min(check, now + watcher.settings.recheck_s))
        if seen is not None or watcher.blind is not None:
            return seen


def status_for_record(
    target: Target, inv: Invocation, seen: Seen, polls: int, secrets: Secrets
) -> TargetResult:
    """The result a completion record implies: what the instance view says once the script
    ended by itself with that exit code (Succeeded for 0, else Failed), the blob's creation
    and last write standing for its start and end. Its output comes from the blobs."""
    assert seen.exit_code is not None and seen.stdout is not None
    state = "Succeeded" if seen.exit_code == 0 else "Failed"
    view = RunView(
        state, exit_code=seen.exit_code, start_time=seen.stdout.created,
        end_time=seen.stdout.modified, run_id=inv.run_id,
    )  # fmt: skip
    return result_from_view(target, view, polls, secrets, timeout_s=inv.timeout_s)
